// Glance's list query syntax: in:, comparison operators, both sort forms, limits.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nextQuery, parseListQuery, splitIn } from './list-query.ts';

describe('image list query', () => {
  it('splits in: values with quotes', () => {
    assert.deepEqual(splitIn('a,"b,c",d'), ['a', 'b,c', 'd']);
    assert.throws(() => splitIn('"a'), /Unbalanced/);
  });
  it('reads filters, sorting and paging', () => {
    const q = parseListQuery({
      name: 'in:x,y',
      status: 'active',
      tag: ['t1', 't2'],
      limit: '5000',
      os_distro: 'debian',
      sort: 'name:asc,size',
      created_at: 'gte:2024-01-01T00:00:00Z',
    });
    assert.deepEqual(q.names, ['x', 'y']);
    assert.deepEqual(q.statuses, ['active']);
    assert.deepEqual(q.tags, ['t1', 't2']);
    assert.equal(q.limit, 1000, 'capped at 1000');
    assert.deepEqual(q.properties, { os_distro: 'debian' });
    assert.deepEqual(q.sort, [
      { key: 'name', dir: 'asc' },
      { key: 'size', dir: 'desc' },
      { key: 'id', dir: 'asc' },
    ]);
    assert.deepEqual(q.createdAt, [{ op: 'gte', at: Date.parse('2024-01-01T00:00:00Z') }]);
    assert.deepEqual(parseListQuery({}).sort, [
      { key: 'created_at', dir: 'desc' },
      { key: 'id', dir: 'desc' },
    ]);
    assert.equal(parseListQuery({}).limit, 25);
    assert.deepEqual(
      parseListQuery({ sort_key: ['min_disk', 'name'], sort_dir: ['desc', 'asc'] }).sort.map(
        (s) => `${s.key}:${s.dir}`,
      ),
      ['min_disk:desc', 'name:asc', 'id:desc'],
    );
    assert.equal(parseListQuery({ os_hidden: 'True' }).osHidden, true);
  });
  it('refuses what Glance refuses', () => {
    for (const bad of [
      { limit: '-1' },
      { sort_key: 'password' },
      { sort: 'name:up' },
      { sort: 'name', sort_key: 'id' },
      { visibility: 'everyone' },
      { member_status: 'maybe' },
      { size_min: 'x' },
      { updated_at: 'gt:yesterday' },
      { name: ['a', 'b'] },
    ]) {
      assert.throws(
        () => parseListQuery(bad as any),
        (e: any) => e.status === 400,
        JSON.stringify(bad),
      );
    }
  });
  it('keeps the filters in the next link', () => {
    assert.equal(
      nextQuery({ name: 'x', tag: ['a', 'b'], marker: 'old', limit: '3' }, 'new', 3),
      'name=x&tag=a&tag=b&limit=3&marker=new',
    );
  });
});
