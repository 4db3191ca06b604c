// An undo stack for host work made of steps (Incus's revert, on AsyncDisposableStack): each step
// that makes something (a file, a process, a cgroup, a tap, an export) pushes how to take it away;
// if the work fails the undos run, last first; once it has succeeded `keep()` drops them.
//
//   await using undo = new Undo();
//   await makeDisk(path);  undo.push(`remove ${path}`, () => rm(path, { force: true }));
//   await startQemu(def);  undo.push('stop QEMU', () => killQemu(def.dir));
//   undo.keep();           // success: the disk and the process stay
//
// A step that can fail half-way pushes its undo before it runs, when that undo is harmless on
// nothing (rm with force). An undo that fails is reported (onFailure), never thrown: the error the
// caller sees stays the work's own, and the undos below it still run.

export interface UndoOptions {
  /** Told of each undo that failed (what it was to undo, and why it failed). */
  readonly onFailure?: (what: string, error: unknown) => void;
}

export class Undo implements AsyncDisposable {
  #stack = new AsyncDisposableStack();
  readonly #onFailure: ((what: string, error: unknown) => void) | undefined;

  constructor(opts: UndoOptions = {}) {
    this.#onFailure = opts.onFailure;
  }

  /** Registers the undo of a step; `what` names it for the failure report. */
  push(what: string, undo: () => unknown): void {
    this.#stack.defer(async () => {
      try {
        await undo();
      } catch (e) {
        this.#onFailure?.(what, e);
      }
    });
  }

  /**
   * Takes over the undos of `other` (a sub-step's stack), as one step in this one: they run, in
   * their own order, where this stack reaches them. `other` is left empty.
   */
  adopt(other: Undo): void {
    const taken = other.#take();
    this.#stack.defer(() => taken.disposeAsync());
  }

  /** The work succeeded: what was pushed so far is never undone (later pushes are, if it fails). */
  keep(): void {
    this.#take();
  }

  /** Undoes every step now, last first (what disposing the stack does); the stack is empty after. */
  async undo(): Promise<void> {
    await this.#take().disposeAsync();
  }

  /** The steps so far, moved out; this stack starts empty again (a moved stack cannot take more). */
  #take(): AsyncDisposableStack {
    const taken = this.#stack.move();
    this.#stack = new AsyncDisposableStack();
    return taken;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.undo();
  }
}
