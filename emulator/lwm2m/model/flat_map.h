// A sorted vector with the part of std::map's interface the object tree
// uses. A device holds a few dozen resources in maps of one to ten entries;
// as std::map nodes each costs about 80 bytes of overhead, here none, which
// is a quarter of a virtual device's memory in a fleet. Unlike std::map,
// inserting or erasing invalidates iterators and references to elements.
#pragma once

#include <algorithm>
#include <initializer_list>
#include <utility>
#include <vector>

namespace hil::lwm2m {

template <typename K, typename V>
class FlatMap {
 public:
  using key_type = K;
  using mapped_type = V;
  using value_type = std::pair<K, V>;
  using iterator = typename std::vector<value_type>::iterator;
  using const_iterator = typename std::vector<value_type>::const_iterator;
  using reverse_iterator = typename std::vector<value_type>::reverse_iterator;
  using const_reverse_iterator = typename std::vector<value_type>::const_reverse_iterator;
  using size_type = size_t;

  FlatMap() = default;
  FlatMap(std::initializer_list<value_type> items) {
    for (const auto& item : items) insert_or_assign(item.first, item.second);
  }

  iterator begin() { return items_.begin(); }
  iterator end() { return items_.end(); }
  const_iterator begin() const { return items_.begin(); }
  const_iterator end() const { return items_.end(); }
  reverse_iterator rbegin() { return items_.rbegin(); }
  reverse_iterator rend() { return items_.rend(); }
  const_reverse_iterator rbegin() const { return items_.rbegin(); }
  const_reverse_iterator rend() const { return items_.rend(); }
  size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  void clear() { items_.clear(); }

  iterator lower_bound(const K& k) {
    return std::lower_bound(items_.begin(), items_.end(), k, key_less);
  }
  const_iterator lower_bound(const K& k) const {
    return std::lower_bound(items_.begin(), items_.end(), k, key_less);
  }
  iterator upper_bound(const K& k) {
    return std::upper_bound(items_.begin(), items_.end(), k, less_key);
  }
  const_iterator upper_bound(const K& k) const {
    return std::upper_bound(items_.begin(), items_.end(), k, less_key);
  }
  iterator find(const K& k) {
    auto it = lower_bound(k);
    return it != end() && it->first == k ? it : end();
  }
  const_iterator find(const K& k) const {
    auto it = lower_bound(k);
    return it != end() && it->first == k ? it : end();
  }
  size_t count(const K& k) const { return find(k) != end() ? 1 : 0; }

  // Like std::map::at; through libstdc++'s thrower, which firmware built
  // without exceptions defines to stop.
  V& at(const K& k) {
    auto it = find(k);
    if (it == end()) std::__throw_out_of_range("FlatMap::at");
    return it->second;
  }
  const V& at(const K& k) const {
    auto it = find(k);
    if (it == end()) std::__throw_out_of_range("FlatMap::at");
    return it->second;
  }
  V& operator[](const K& k) { return try_emplace(k).first->second; }

  template <typename... Args>
  std::pair<iterator, bool> try_emplace(const K& k, Args&&... args) {
    auto it = lower_bound(k);
    if (it != end() && it->first == k) return {it, false};
    it = items_.emplace(it, std::piecewise_construct, std::forward_as_tuple(k),
                        std::forward_as_tuple(std::forward<Args>(args)...));
    return {it, true};
  }
  template <typename M>
  std::pair<iterator, bool> emplace(const K& k, M&& v) {
    return try_emplace(k, std::forward<M>(v));
  }
  std::pair<iterator, bool> insert(value_type item) {
    return try_emplace(item.first, std::move(item.second));
  }
  template <typename M>
  std::pair<iterator, bool> insert_or_assign(const K& k, M&& v) {
    auto [it, made] = try_emplace(k, std::forward<M>(v));
    if (!made) it->second = std::forward<M>(v);
    return {it, made};
  }

  size_t erase(const K& k) {
    auto it = find(k);
    if (it == end()) return 0;
    items_.erase(it);
    return 1;
  }
  iterator erase(const_iterator it) { return items_.erase(it); }
  iterator erase(iterator it) { return items_.erase(it); }

  bool operator==(const FlatMap& o) const { return items_ == o.items_; }
  bool operator!=(const FlatMap& o) const { return items_ != o.items_; }

 private:
  static bool key_less(const value_type& a, const K& k) { return a.first < k; }
  static bool less_key(const K& k, const value_type& a) { return k < a.first; }

  std::vector<value_type> items_;
};

}  // namespace hil::lwm2m
