/**
 * The live event feed from GET /v1/events (server-sent events; the session cookie goes along).
 * The browser's EventSource reconnects by itself and sends Last-Event-ID, so nothing is missed
 * that the daemon's ring still holds.
 */
import { useEffect, useState } from 'preact/hooks';
import type { Event } from './api.js';

const KEEP = 50;

/** Follows the event stream while mounted; `onEvent` sees every event. */
export function useEvents(onEvent: (e: Event) => void): Event[] {
  const [events, setEvents] = useState<Event[]>([]);
  useEffect(() => {
    const es = new EventSource('/v1/events');
    es.onmessage = (m) => {
      const e = JSON.parse(m.data) as Event;
      setEvents((prev) => [e, ...prev].slice(0, KEEP));
      onEvent(e);
    };
    return () => es.close();
  }, [onEvent]);
  return events;
}

export function EventFeed({ events }: { events: Event[] }) {
  return (
    <section class="events">
      <h2>Events</h2>
      <ol>
        {events.map((e) => (
          <li key={e.seq} class={e.type}>
            <time>{e.time.slice(11, 19)}</time> <b>{e.type}</b> {e.action}{' '}
            {e.instance ?? (e.data?.target as string | undefined) ?? e.message ?? ''}
            {e.type === 'operation' && e.data?.kind ? <i> {String(e.data.kind)}</i> : null}
          </li>
        ))}
      </ol>
    </section>
  );
}
