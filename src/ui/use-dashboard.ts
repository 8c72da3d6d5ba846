/**
 * The dashboard's data: instances, nodes and image names, polled every `pollMs`, with the stats
 * of running and paused instances fed into a UsageHistory. `refresh` may be called at any time
 * (after an action, on a lifecycle event); a refresh already running absorbs it. A 401 is left
 * to the API's unauthorized handler (back to the login step), any other failure is `error`.
 */
import { useCallback, useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { ApiError, type Instance, listImages, listInstances, listNodes, type Node, stats } from './api.js';
import { UsageHistory } from './usage-history.js';

export interface DashboardData {
  instances: Instance[];
  nodes: Node[];
  images: string[];
  history: UsageHistory;
  error: string;
  refresh: () => Promise<void>;
  refreshImages: () => void;
}

export function useDashboard(pollMs: number): DashboardData {
  const [instances, setInstances] = useState<Instance[]>([]);
  const [nodes, setNodes] = useState<Node[]>([]);
  const [images, setImages] = useState<string[]>([]);
  const [error, setError] = useState('');
  const history = useMemo(() => new UsageHistory(), []);
  const running = useRef(false);

  const refresh = useCallback(async () => {
    if (running.current) return;
    running.current = true;
    try {
      const [list, n] = await Promise.all([listInstances(), listNodes()]);
      const active = list.filter((i) => i.status === 'running' || i.status === 'paused');
      const usage = await Promise.all(active.map((i) => stats(i.name).catch(() => undefined)));
      for (const u of usage) if (u) history.add(u);
      history.retain(new Set(active.map((i) => i.name)));
      setInstances(list);
      setNodes(n);
      setError('');
    } catch (e) {
      if (!(e instanceof ApiError && e.status === 401)) setError((e as Error).message);
    } finally {
      running.current = false;
    }
  }, [history]);

  const refreshImages = useCallback(() => {
    listImages().then(
      (l) => setImages(l.map((i) => i.name)),
      () => {},
    );
  }, []);

  useEffect(() => {
    void refresh();
    refreshImages();
    const t = setInterval(refresh, pollMs);
    return () => clearInterval(t);
  }, [refresh, refreshImages, pollMs]);

  return { instances, nodes, images, history, error, refresh, refreshImages };
}
