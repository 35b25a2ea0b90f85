import type { AnyActorRef } from 'xstate';
import type { Logger } from '../logger.js';

/**
 * The one place actors of a kind are created, found and stopped. A crashed actor is logged and
 * dropped; the next lookup rehydrates it from its persisted state (the owner's `load`).
 *
 * @example
 * const sessions = new ActorRegistry<SessionActor>('session', logger);
 * sessions.add(id, createActor(sessionMachine, { input }));
 */
export class ActorRegistry<A extends AnyActorRef> {
  private readonly actors = new Map<string, A>();

  constructor(
    private readonly kind: string,
    private readonly logger: Logger,
  ) {}

  /** Starts an actor under an id, replacing (and stopping) any earlier one. */
  add(id: string, actor: A): A {
    this.actors.get(id)?.stop();
    this.actors.set(id, actor);
    actor.subscribe({
      error: (err: unknown) => {
        this.logger.error({ err, kind: this.kind, id }, 'actor crashed; it will be rehydrated on next use');
        if (this.actors.get(id) === actor) this.actors.delete(id);
      },
    });
    actor.start();
    return actor;
  }

  get(id: string): A | undefined {
    return this.actors.get(id);
  }

  /** Forgets an actor without stopping it (it stopped itself). */
  remove(id: string): void {
    this.actors.delete(id);
  }

  get size(): number {
    return this.actors.size;
  }

  /** Stops every actor (shutdown). Their persisted state lets the next process carry on. */
  stopAll(): void {
    for (const actor of this.actors.values()) actor.stop();
    this.actors.clear();
  }
}
