import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DepotView, HistoryEntryView, InvoiceView, PayView, PinView } from '@kis/protocol/api';
import type { PayPalStandIn } from '../../scripts/paypal-standin/server.js';
import type { SimulatedDepot } from '../../scripts/simulator/depot.js';
import { ApiClient, createFirstAdmin } from '../helpers/api.js';
import { registerDepot, simulate } from '../helpers/depots.js';
import { makeOrganization, nextIp } from '../helpers/organizations.js';
import { addCustomer, issueInvoice, setUpPayments, startServerWithPayPal, tokenOf } from '../helpers/payments.js';
import { eventually, type TestServer } from '../helpers/server.js';
import type { TestSmtp } from '../helpers/smtp.js';

/**
 * Issue 20, finding 2: a PIN id belongs to the depot it was made for. Another depot (broken
 * firmware, or a stolen depot key) that reports `pin_accepted` and `key_removed` with that id
 * must neither use up the PIN nor mark its invoice picked up.
 */
let paypal: PayPalStandIn;
let server: TestServer;
let smtp: TestSmtp;
let admin: ApiClient;
let owner: ApiClient;
let depotA: SimulatedDepot;
let depotB: SimulatedDepot;
let idA: string;
let idB: string;

beforeAll(async () => {
  ({ paypal, smtp, server } = await startServerWithPayPal());
  admin = await createFirstAdmin(server);
  const { org, main } = await makeOrganization(server, smtp, admin, 'Autohaus Bindung', 'chef@bindung.example');
  owner = main;
  const a = await registerDepot(admin, { name: 'Depot A', heartbeatSeconds: 1, organizationId: org.id });
  const b = await registerDepot(admin, { name: 'Depot B', heartbeatSeconds: 1 });
  idA = a.depot.depotId;
  idB = b.depot.depotId;
  depotA = simulate(a.provisioning);
  depotB = simulate(b.provisioning);
  await Promise.all([depotA.start(), depotB.start()]);
  for (const id of [idA, idB]) {
    await eventually(async () => (await admin.get<DepotView>(`/api/depots/${id}`)).body.online, 5000, 'online');
  }
  await setUpPayments(owner);
});
afterAll(async () => {
  await depotA?.stop();
  await depotB?.stop();
  await server?.stop();
  await smtp?.close();
  await paypal?.close();
});

async function pinOf(depotId: string, pinId: string): Promise<PinView | undefined> {
  return (await admin.get<{ items: PinView[] }>(`/api/depots/${depotId}/pins`)).body.items.find(
    (p) => p.pinId === pinId,
  );
}

describe("another depot's PIN", () => {
  it("does not use up the PIN or pick up the invoice when depot B names depot A's PIN id", async () => {
    const customer = await addCustomer(owner, { email: 'kunde@bindung.example' });
    const inv: InvoiceView = await issueInvoice(owner, customer.id, { depotId: idA, comp: 2 });
    const token = tokenOf(inv.payUrl);
    const payer = new ApiClient(server, nextIp());
    const order = await payer.post<{ approveUrl: string }>(`/api/pay/${token}/order`, { lang: 'de' });
    expect(order.status, JSON.stringify(order.body)).toBe(200);
    const orderId = new URL(order.body.approveUrl).searchParams.get('token') ?? '';
    await paypal.approve(orderId);
    const paid = await payer.post<PayView>(`/api/pay/${token}/capture`, { orderId });
    expect(paid.body.state).toBe('paid');
    const digits = paid.body.pin?.digits ?? '';
    const pinId = (await owner.get<InvoiceView>(`/api/invoices/${inv.id}`)).body.pin?.pinId ?? '';
    expect(pinId).not.toBe('');
    await eventually(async () => (await pinOf(idA, pinId))?.state === 'active', 5000, 'PIN active on A');

    // Depot B reports A's PIN as entered and the key as taken, over real UDP, with its own key.
    depotB.event('pin_accepted', { comp: 1, pin: pinId });
    depotB.takeKey(1, pinId);
    await eventually(
      async () => {
        const h = await admin.get<{ items: HistoryEntryView[] }>(`/api/depots/${idB}/history?kind=key_removed`);
        return h.body.items.some((e) => e.pinId === pinId);
      },
      5000,
      "B's report stored",
    );
    await eventually(() => depotB.pendingEvents.length === 0, 5000, "B's events acknowledged");
    // What follows a stored event runs just after it: give it time to do harm.
    await new Promise((r) => setTimeout(r, 1000));

    expect((await owner.get<InvoiceView>(`/api/invoices/${inv.id}`)).body.state).toBe('paid');
    expect(await pinOf(idA, pinId)).toMatchObject({ state: 'active', usesSeen: 0 });
    // The payer's own return still shows the PIN: for KIS the key is still waiting.
    const again = await payer.post<PayView>(`/api/pay/${token}/capture`, { orderId });
    expect(again.body).toMatchObject({ state: 'paid', pin: { digits } });
    // B's history names the id it sent, but not the label of A's PIN.
    const history = await admin.get<{ items: HistoryEntryView[] }>(`/api/depots/${idB}/history`);
    for (const e of history.body.items.filter((i) => i.pinId === pinId)) expect(e.pinLabel).toBeNull();

    // The real pick-up at depot A works.
    expect(depotA.enterPin(digits)).toEqual({ pinId, comp: 2 });
    depotA.takeKey(2, pinId);
    await eventually(
      async () => (await owner.get<InvoiceView>(`/api/invoices/${inv.id}`)).body.state === 'picked_up',
      5000,
      'picked up at A',
    );
    await eventually(async () => (await pinOf(idA, pinId))?.usesSeen === 1, 5000, 'one use seen at A');
  });
});
