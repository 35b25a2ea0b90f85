import { getContext, setContext } from 'svelte';
import type { AreaSummary } from '@kis/protocol/api';
import type { AreaChangedPayload } from '@kis/protocol/realtime';
import { api, type ApiOptions } from '$lib/api';
import type { Connection } from '$lib/realtime/connection.svelte';

const CONTEXT_KEY = Symbol('areas');

/**
 * The signed-in user's areas at a glance, for the navigation's badges and the home page: unread
 * entries of area 1 and 2, files and stale files of area 4, and what the user may do. Kept
 * current by `areas:changed`; pages that show an area subscribe with {@link onChange} to reload.
 *
 * @example
 * const areas = getAreas();
 * {#if areas.summary?.personalUnread}<span class="badge">{areas.summary.personalUnread}</span>{/if}
 */
export class AreaState {
  summary = $state<AreaSummary | undefined>(undefined);
  private generation = 0;
  // Callbacks, not state: nothing renders from this set.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity
  private readonly listeners = new Set<(change: AreaChangedPayload) => void>();

  constructor(connection: Connection) {
    // Reloads the page makes by itself: they do not keep the session alive.
    connection.socket.on('areas:changed', (change) => {
      void this.refresh({ background: true });
      for (const listener of this.listeners) listener(change);
    });
    // After a reconnect something may have changed unseen.
    connection.socket.on('connect', () => {
      if (this.summary) void this.refresh({ background: true });
    });
  }

  /** Loads the overview again (after login, a change, or reading an entry). */
  async refresh(options: ApiOptions = {}): Promise<void> {
    // Several changes in a row start several loads: only the newest answer counts.
    const mine = ++this.generation;
    try {
      const summary = await api<AreaSummary>('GET', '/api/areas/summary', undefined, options);
      if (mine === this.generation) this.summary = summary;
    } catch {
      if (mine === this.generation) this.summary = undefined;
    }
  }

  /** Clears the overview at logout. */
  clear(): void {
    this.summary = undefined;
  }

  /** Calls `listener` on every change of an area; returns the unsubscribe function. */
  onChange(listener: (change: AreaChangedPayload) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

export function setAreas(areas: AreaState): AreaState {
  return setContext(CONTEXT_KEY, areas);
}

export function getAreas(): AreaState {
  return getContext<AreaState>(CONTEXT_KEY);
}
