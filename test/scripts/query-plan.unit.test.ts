import { describe, expect, it } from 'vitest';
import { summarizePlan } from '../../scripts/cli/query-plan.js';

// The FerretDB answers are copied from FerretDB v1.24.2 on this machine (SQLite, and PostgreSQL 15
// through --handler=postgresql); the MongoDB ones follow the manual's explain-results page (classic
// engine, slot-based engine, 8.0's express path), since no mongod runs here.

describe('reading a query plan', () => {
  it('sees MongoDB read the history through its index, and where it sorts in memory', () => {
    const viaIndex = summarizePlan({
      queryPlanner: {
        winningPlan: {
          stage: 'LIMIT',
          inputStage: {
            stage: 'FETCH',
            inputStage: { stage: 'IXSCAN', indexName: 'depotId_1_at_-1', keyPattern: { depotId: 1, at: -1 } },
          },
        },
      },
    });
    expect(viaIndex).toEqual({ index: true, plan: 'LIMIT > FETCH > IXSCAN depotId_1_at_-1', backend: 'mongodb' });

    const scan = summarizePlan({
      queryPlanner: { winningPlan: { queryPlan: { stage: 'SORT', inputStage: { stage: 'COLLSCAN' } } } },
    });
    expect(scan).toMatchObject({ index: false, plan: 'SORT > COLLSCAN' });
  });

  it("counts MongoDB's _id fast paths and index unions as index reads", () => {
    expect(summarizePlan({ queryPlanner: { winningPlan: { stage: 'IDHACK' } } }).index).toBe(true);
    expect(
      summarizePlan({ queryPlanner: { winningPlan: { stage: 'EXPRESS_IXSCAN', indexName: '_id_' } } }),
    ).toMatchObject({ index: true, plan: 'EXPRESS_IXSCAN _id_' });
    const union = summarizePlan({
      queryPlanner: {
        winningPlan: {
          stage: 'FETCH',
          inputStage: {
            stage: 'OR',
            inputStages: [
              { stage: 'IXSCAN', indexName: 'a_1' },
              { stage: 'IXSCAN', indexName: 'b_1' },
            ],
          },
        },
      },
    });
    expect(union).toMatchObject({ index: true, plan: 'FETCH > OR > [IXSCAN a_1 | IXSCAN b_1]' });
    const half = summarizePlan({
      queryPlanner: { winningPlan: { stage: 'OR', inputStages: [{ stage: 'IXSCAN' }, { stage: 'COLLSCAN' }] } },
    });
    expect(half.index).toBe(false);
  });

  it('finds an index node anywhere in a PostgreSQL plan under FerretDB', () => {
    const bitmap = summarizePlan(
      {
        queryPlanner: {
          Plan: {
            'Node Type': 'Limit',
            Plans: [
              {
                'Node Type': 'Bitmap Heap Scan',
                'Relation Name': 'depot_history_010ee20e',
                Plans: [
                  {
                    'Node Type': 'Bitmap Index Scan',
                    'Index Name': 'depot_history_010ee20e_depotid___at___bea3de2f_idx',
                  },
                ],
              },
            ],
          },
        },
        filterPushdown: true,
        sortPushdown: false,
        limitPushdown: false,
      },
      'depot_history',
    );
    expect(bitmap).toEqual({
      index: true,
      plan: 'Bitmap Heap Scan on depot_history, Bitmap Index Scan on depot_history_depotid___at___bea3de2f_idx',
      backend: 'postgresql',
      pushdown: { filter: true, sort: false, limit: false },
    });

    const seq = summarizePlan(
      {
        queryPlanner: {
          Plan: {
            'Node Type': 'Gather',
            Plans: [
              {
                'Node Type': 'Seq Scan',
                'Relation Name': 'h_ed0c3757',
                Filter: `((h_ed0c3757._jsonb -> '_id'::text) @> '"d3:ev:40003"'::jsonb)`,
              },
            ],
          },
        },
        filterPushdown: true,
      },
      'h',
    );
    expect(seq).toMatchObject({ index: false, plan: 'Seq Scan on h', backend: 'postgresql' });
  });

  it("reads SQLite's query plan lines under FerretDB", () => {
    const scan = summarizePlan(
      {
        queryPlanner: { Plan: ['id=2 parent=0 notused=0 detail=SCAN depot_history_010ee20e'] },
        filterPushdown: false,
        sortPushdown: false,
        limitPushdown: false,
      },
      'depot_history',
    );
    expect(scan).toEqual({
      index: false,
      plan: 'SCAN depot_history',
      backend: 'sqlite',
      pushdown: { filter: false, sort: false, limit: false },
    });
    const search = summarizePlan({
      queryPlanner: {
        Plan: ['id=3 parent=0 notused=0 detail=SEARCH t_0a1b2c3d USING INDEX t_0a1b2c3d__id_ (<expr>=?)'],
      },
    });
    expect(search).toMatchObject({ index: true, backend: 'sqlite' });
  });

  it('says so when there is no plan (FerretDB on a missing collection) or an unknown one', () => {
    expect(summarizePlan({ queryPlanner: {}, filterPushdown: false })).toMatchObject({ index: false, plan: 'no plan' });
    expect(summarizePlan({ queryPlanner: { something: 1 } })).toMatchObject({
      index: false,
      plan: 'unrecognised plan',
    });
  });
});
