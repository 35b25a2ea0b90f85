import { describe, expect, it } from 'vitest';
import { searchGrams } from '../../../server/src/identity/search-grams.js';
import { rarestGram } from '../../../server/src/identity/user-search.js';

describe('the trigram a user search reads its candidates by', () => {
  it('is one of the search, made of its rarest characters', () => {
    expect(rarestGram(searchGrams('Müller'))).toBe('mül');
    expect(rarestGram(searchGrams('Zimmermann'))).toBe('zim');
  });

  it('avoids trigrams that many German names share, unless nothing else is left', () => {
    expect(rarestGram(searchGrams('Schneider'))).not.toBe('sch');
    expect(searchGrams('Schneider')).toContain(rarestGram(searchGrams('Schneider')));
    expect(rarestGram(searchGrams('sch'))).toBe('sch');
  });
});
