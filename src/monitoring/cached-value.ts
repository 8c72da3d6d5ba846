/**
 * A value loaded on demand and reused while it is younger than `maxAgeMs` (counted from the end
 * of its load, so a slow load still leaves the source that much rest). Callers that arrive while
 * a load runs share it; a failed load is not kept, the next caller tries again.
 */
export class CachedValue<T> {
  private value: { v: T; at: number } | undefined;
  private loading: Promise<T> | undefined;
  private loads = 0;

  constructor(
    private readonly load: () => Promise<T>,
    private readonly maxAgeMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The cached value when fresh, else the result of a (shared) new load. */
  get(): Promise<T> {
    if (this.value && this.now() - this.value.at < this.maxAgeMs) return Promise.resolve(this.value.v);
    if (this.loading) return this.loading;
    this.loads++;
    this.loading = this.load().then(
      (v) => {
        this.value = { v, at: this.now() };
        this.loading = undefined;
        return v;
      },
      (err) => {
        this.loading = undefined;
        throw err;
      },
    );
    return this.loading;
  }

  /** How many loads have started. */
  get loadCount(): number {
    return this.loads;
  }
}
