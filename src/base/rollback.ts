/**
 * Undo steps for multi-step host changes (after Incus `shared/revert`).
 * Register an undo after each step succeeds; `commit()` when all succeeded;
 * `undo()` in the failure path runs the steps in reverse, each once, and never throws.
 */

export type UndoStep = () => void | Promise<void>;

export class Rollback {
  private steps: { what: string; undo: UndoStep }[] = [];
  private done = false;

  /** Registers an undo step; `what` names it in the errors that undo reports. */
  add(what: string, undo: UndoStep): void {
    if (this.done) throw new Error(`rollback: add("${what}") after commit or undo`);
    this.steps.push({ what, undo });
  }

  /** Keeps every change: the registered steps are forgotten. */
  commit(): void {
    this.done = true;
    this.steps = [];
  }

  /** Runs the undo steps in reverse order; returns the errors of those that failed. */
  async undo(): Promise<Error[]> {
    const failures: Error[] = [];
    const steps = this.steps.reverse();
    this.steps = [];
    this.done = true;
    for (const step of steps) {
      try {
        await step.undo();
      } catch (err) {
        failures.push(new Error(`undo ${step.what}: ${err instanceof Error ? err.message : String(err)}`));
      }
    }
    return failures;
  }
}
