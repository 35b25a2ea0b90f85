import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The Prometheus metrics of one server process, on a registry of its own (tests start several). */
export interface Metrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route'>;
  socketConnections: Gauge;
  udpDatagrams: Counter<'outcome'>;
  udpAckLatency: Histogram;
  depotsLoaded: Gauge;
  /** Tells the gauge of history entries in the depots' journal where to read them (depots/history-journal.ts). */
  measureHistoryJournal: (entries: () => number) => void;
  depotLookups: Counter<'found'>;
}

/** Creates the registry with Node's default metrics and KIS's own. */
export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'kis_' });
  let journalEntries = (): number => 0;
  new Gauge({
    name: 'kis_depot_history_journal_entries',
    help: 'Depot history entries durable in the journal, not yet moved into the history collection',
    registers: [registry],
    collect() {
      this.set(journalEntries());
    },
  });
  return {
    registry,
    httpRequests: new Counter({
      name: 'kis_http_requests_total',
      help: 'HTTP requests by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    httpDuration: new Histogram({
      name: 'kis_http_request_duration_seconds',
      help: 'HTTP request duration by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    }),
    socketConnections: new Gauge({
      name: 'kis_socket_connections',
      help: 'Open Socket.IO connections',
      registers: [registry],
    }),
    udpDatagrams: new Counter({
      name: 'kis_udp_datagrams_total',
      help: 'UDP datagrams received, by outcome (accepted or the reason they were dropped)',
      labelNames: ['outcome'],
      registers: [registry],
    }),
    udpAckLatency: new Histogram({
      name: 'kis_udp_ack_latency_seconds',
      help: 'From an accepted depot telegram to its ACK leaving, including the durable write',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    depotLookups: new Counter({
      name: 'kis_depot_lookups_total',
      help: 'Database look-ups for depot ids the server did not have loaded, by whether the depot was found',
      labelNames: ['found'],
      registers: [registry],
    }),
    depotsLoaded: new Gauge({
      name: 'kis_depots_loaded',
      help: 'Depot actors alive in this process',
      registers: [registry],
    }),
    measureHistoryJournal: (entries) => {
      journalEntries = entries;
    },
  };
}
