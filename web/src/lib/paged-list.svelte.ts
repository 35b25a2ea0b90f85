import { Action } from './action.svelte';

/**
 * One page of a server-side list and how to move through it: the page number, the items, the total,
 * and the state of the last load (busy, error) for the page to show.
 *
 * @example
 * const users = new PagedList<User>(25, (query) => api('GET', `/api/admin/users?${query}`));
 */
export class PagedList<T> {
  page = $state(1);
  items = $state<T[]>([]);
  total = $state(0);
  readonly loading = new Action();
  /** Answers of overlapping loads may come back out of order: only the newest counts. */
  private generation = 0;

  constructor(
    readonly pageSize: number,
    private readonly fetchPage: (query: string) => Promise<{ items: T[]; total: number }>,
  ) {}

  /** Loads the current page; `filters` are added to the query string (empty ones left out). */
  async load(filters: Record<string, string> = {}): Promise<void> {
    const query: Record<string, string> = { page: String(this.page), pageSize: String(this.pageSize) };
    for (const [key, value] of Object.entries(filters)) if (value.trim()) query[key] = value.trim();
    const mine = ++this.generation;
    await this.loading.run(async () => {
      // A one-off string, not reactive state: the plain class is right here.
      // eslint-disable-next-line svelte/prefer-svelte-reactivity
      const answer = await this.fetchPage(new URLSearchParams(query).toString());
      if (mine !== this.generation) return;
      this.items = answer.items;
      this.total = answer.total;
    });
  }
}
