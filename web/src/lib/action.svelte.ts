/**
 * The state of one user action (a form submit): busy while it runs, and the error it ended with,
 * for the button and the error message to follow.
 *
 * @example
 * const save = new Action();
 * <form onsubmit={(e) => { e.preventDefault(); void save.run(() => api('PATCH', '/api/account', data)); }}>
 */
export class Action {
  busy = $state(false);
  error = $state<unknown>(undefined);

  /** Runs the action; a failure is kept in `error`, not thrown. Returns whether it succeeded. */
  async run(action: () => Promise<unknown>): Promise<boolean> {
    this.busy = true;
    this.error = undefined;
    try {
      await action();
      return true;
    } catch (err) {
      this.error = err;
      return false;
    } finally {
      this.busy = false;
    }
  }
}
