"""The gateway memories' one eviction rule: bounded by the total size, oldest out first."""

from __future__ import annotations

from gateway.bounded import BoundedLru


def test_oldest_entries_go_first_until_the_sizes_fit() -> None:
    evicted: list[str] = []
    lru: BoundedLru[str] = BoundedLru(5, len, on_evict=lambda key, value: evicted.append(key))
    lru.put("a", "xx")
    lru.put("b", "xx")
    assert lru.get("a", touch=True) == "xx"  # now the most recent
    lru.put("c", "xx")
    assert evicted == ["b"]
    assert (lru.get("a"), lru.get("b"), lru.get("c")) == ("xx", None, "xx")
    assert (len(lru), lru.size) == (2, 4)


def test_a_replaced_value_is_evicted_and_one_larger_than_everything_is_not_held() -> None:
    evicted: list[tuple[str, str]] = []
    lru: BoundedLru[str] = BoundedLru(3, len, on_evict=lambda k, v: evicted.append((k, v)))
    lru.put("a", "x")
    lru.put("a", "yy")
    assert evicted == [("a", "x")]
    lru.put("a", "zzzz")
    assert lru.get("a") is None
    assert evicted == [("a", "x"), ("a", "yy")]
    assert (len(lru), lru.size) == (0, 0)
