/**
 * The event bus: lifecycle and operation events, each stamped with a sequence number that
 * increases by one per event for the life of the process. Subscribers get events synchronously
 * and must not block: a subscriber that cannot keep up (a slow HTTP client) is expected to drop
 * itself, never to stall the publisher. A small ring of recent events lets a new subscriber
 * replay from a sequence number it already saw.
 */

export type EventType = 'lifecycle' | 'operation' | 'image';

export type LifecycleAction =
  | 'created'
  | 'started'
  | 'paused'
  | 'resumed'
  | 'stopped'
  | 'restarted'
  | 'deleted'
  | 'updated'
  | 'exited'
  | 'oom-killed'
  | 'failed'
  | 'isolated';

export interface TandemEvent {
  seq: number;
  time: string;
  type: EventType;
  /** A LifecycleAction, or for operations their new status, or for images 'imported'/'removed'. */
  action: string;
  instance?: string;
  instanceType?: string;
  operation?: string;
  message?: string;
  data?: Record<string, unknown>;
}

export type EventInput = Omit<TandemEvent, 'seq' | 'time'>;
export type EventListener = (event: TandemEvent) => void;

export class EventBus {
  private seq = 0;
  private readonly listeners = new Set<EventListener>();
  private readonly ring: TandemEvent[] = [];

  constructor(private readonly ringSize = 1024) {}

  /** Stamps and delivers an event to every subscriber; a throwing subscriber is removed. */
  publish(input: EventInput): TandemEvent {
    const event: TandemEvent = { seq: ++this.seq, time: new Date().toISOString(), ...input };
    this.ring.push(event);
    if (this.ring.length > this.ringSize) this.ring.shift();
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        this.listeners.delete(l);
      }
    }
    return event;
  }

  /** Subscribes; returns the unsubscribe function. */
  subscribe(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Recent events with seq greater than `after`, oldest first (as far as the ring reaches). */
  since(after: number): TandemEvent[] {
    return this.ring.filter((e) => e.seq > after);
  }

  get subscriberCount(): number {
    return this.listeners.size;
  }

  get lastSeq(): number {
    return this.seq;
  }
}
