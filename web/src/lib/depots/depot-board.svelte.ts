import type { DepotView } from '@kis/protocol/api';
import type { DepotAlarmPayload, DepotChangedPayload, DepotLiveView } from '@kis/protocol/realtime';
import type { Connection } from '$lib/realtime/connection.svelte';

/** An alarm the page shows until the user dismisses it. */
export interface AlarmAlert extends DepotAlarmPayload {
  id: number;
}

/** How many alerts stay on screen; older ones give way. */
const MAX_ALERTS = 5;

/**
 * Live depots for a page: the views it loaded, kept current by `depot:update` from the rooms it
 * joined with `depots:watch`, alarms as alerts (and browser notifications when allowed). After a
 * reconnect it watches again and so catches up with what it missed.
 *
 * @example
 * const board = new DepotBoard(getConnection(), { alarmText });
 * board.show(list.items);            // tiles render board.views[id]
 * onDestroy(() => board.stop());
 */
export class DepotBoard {
  views = $state<Record<string, DepotView>>({});
  alerts = $state<AlarmAlert[]>([]);
  private ids: string[] = [];
  private nextAlert = 1;
  private readonly offs: Array<() => void> = [];

  constructor(
    private readonly connection: Connection,
    private readonly options: {
      /** The notification text of an alarm, in the user's language. */
      alarmText: (alarm: DepotAlarmPayload) => string;
      onChanged?: (change: DepotChangedPayload) => void;
    },
  ) {
    const socket = connection.socket;
    const onUpdate = (view: DepotLiveView): void => {
      const known = this.views[view.depotId];
      if (known) this.views[view.depotId] = { ...view, role: known.role };
    };
    const onAlarm = (alarm: DepotAlarmPayload): void => {
      if (!this.views[alarm.depotId]) return;
      this.alerts = [...this.alerts.slice(-(MAX_ALERTS - 1)), { ...alarm, id: this.nextAlert++ }];
      this.notify(alarm);
    };
    const onChanged = (change: DepotChangedPayload): void => {
      if (this.views[change.depotId]) this.options.onChanged?.(change);
    };
    const onConnect = (): void => this.watch();
    socket.on('depot:update', onUpdate);
    socket.on('depot:alarm', onAlarm);
    socket.on('depot:changed', onChanged);
    socket.on('connect', onConnect);
    this.offs.push(
      () => socket.off('depot:update', onUpdate),
      () => socket.off('depot:alarm', onAlarm),
      () => socket.off('depot:changed', onChanged),
      () => socket.off('connect', onConnect),
    );
  }

  /** Shows these depots (a page of the list, or one depot) and follows them live. */
  show(views: DepotView[]): void {
    this.views = Object.fromEntries(views.map((v) => [v.depotId, v]));
    this.ids = views.map((v) => v.depotId);
    this.watch();
  }

  /** Joins the depots' rooms; the answer is their current views (fresher than the REST page). */
  private watch(): void {
    if (!this.connection.socket.connected || this.ids.length === 0) return;
    this.connection.socket.timeout(10_000).emit('depots:watch', { depotIds: this.ids }, (err, answer) => {
      if (err || !answer.ok) return;
      for (const view of answer.value) this.views[view.depotId] = view;
    });
  }

  dismiss(id: number): void {
    this.alerts = this.alerts.filter((a) => a.id !== id);
  }

  private notify(alarm: DepotAlarmPayload): void {
    if (typeof Notification === 'undefined' || Notification.permission !== 'granted') return;
    try {
      new Notification('KIS', { body: this.options.alarmText(alarm), tag: `${alarm.depotId}:${alarm.kind}` });
    } catch {
      // Some browsers allow notifications only from a service worker; the in-page alert remains.
    }
  }

  stop(): void {
    for (const off of this.offs) off();
  }
}
