// The out-of-line red-black tree operations std::map and std::set call
// (declared in <bits/stl_tree.h>, normally in libstdc++'s binary). Written
// here from the textbook algorithm (Cormen et al., "Introduction to
// Algorithms", 13.3 and 13.4) over libstdc++'s node layout: the header node
// is red, its parent is the root, its left the leftmost node and its right
// the rightmost; end() is the header.
#include <map>

namespace std {
namespace {

using Node = _Rb_tree_node_base;

void rotate_left(Node* x, Node*& root) {
  Node* y = x->_M_right;
  x->_M_right = y->_M_left;
  if (y->_M_left) y->_M_left->_M_parent = x;
  y->_M_parent = x->_M_parent;
  if (x == root)
    root = y;
  else if (x == x->_M_parent->_M_left)
    x->_M_parent->_M_left = y;
  else
    x->_M_parent->_M_right = y;
  y->_M_left = x;
  x->_M_parent = y;
}

void rotate_right(Node* x, Node*& root) {
  Node* y = x->_M_left;
  x->_M_left = y->_M_right;
  if (y->_M_right) y->_M_right->_M_parent = x;
  y->_M_parent = x->_M_parent;
  if (x == root)
    root = y;
  else if (x == x->_M_parent->_M_right)
    x->_M_parent->_M_right = y;
  else
    x->_M_parent->_M_left = y;
  y->_M_right = x;
  x->_M_parent = y;
}

bool is_black(const Node* n) { return n == nullptr || n->_M_color == _S_black; }

Node* increment(Node* x) {
  if (x->_M_right) {
    x = x->_M_right;
    while (x->_M_left) x = x->_M_left;
    return x;
  }
  Node* y = x->_M_parent;
  while (x == y->_M_right) {
    x = y;
    y = y->_M_parent;
  }
  // From the rightmost node we climb to the header, whose parent (the root)
  // has no right link back to it: stay on the header (end()).
  if (x->_M_right != y) x = y;
  return x;
}

Node* decrement(Node* x) {
  if (x->_M_color == _S_red && x->_M_parent->_M_parent == x) return x->_M_right;  // end()
  if (x->_M_left) {
    Node* y = x->_M_left;
    while (y->_M_right) y = y->_M_right;
    return y;
  }
  Node* y = x->_M_parent;
  while (x == y->_M_left) {
    x = y;
    y = y->_M_parent;
  }
  return y;
}

}  // namespace

_Rb_tree_node_base* _Rb_tree_increment(_Rb_tree_node_base* x) throw() { return increment(x); }
const _Rb_tree_node_base* _Rb_tree_increment(const _Rb_tree_node_base* x) throw() {
  return increment(const_cast<Node*>(x));
}
_Rb_tree_node_base* _Rb_tree_decrement(_Rb_tree_node_base* x) throw() { return decrement(x); }
const _Rb_tree_node_base* _Rb_tree_decrement(const _Rb_tree_node_base* x) throw() {
  return decrement(const_cast<Node*>(x));
}

void _Rb_tree_insert_and_rebalance(const bool insert_left, _Rb_tree_node_base* x,
                                   _Rb_tree_node_base* p, _Rb_tree_node_base& header) throw() {
  Node*& root = header._M_parent;
  x->_M_parent = p;
  x->_M_left = nullptr;
  x->_M_right = nullptr;
  x->_M_color = _S_red;
  if (insert_left) {
    p->_M_left = x;  // also sets leftmost when p is the header
    if (p == &header) {
      header._M_parent = x;
      header._M_right = x;
    } else if (p == header._M_left) {
      header._M_left = x;
    }
  } else {
    p->_M_right = x;
    if (p == header._M_right) header._M_right = x;
  }
  while (x != root && x->_M_parent->_M_color == _S_red) {
    Node* gp = x->_M_parent->_M_parent;
    if (x->_M_parent == gp->_M_left) {
      Node* uncle = gp->_M_right;
      if (!is_black(uncle)) {
        x->_M_parent->_M_color = _S_black;
        uncle->_M_color = _S_black;
        gp->_M_color = _S_red;
        x = gp;
      } else {
        if (x == x->_M_parent->_M_right) {
          x = x->_M_parent;
          rotate_left(x, root);
        }
        x->_M_parent->_M_color = _S_black;
        gp->_M_color = _S_red;
        rotate_right(gp, root);
      }
    } else {
      Node* uncle = gp->_M_left;
      if (!is_black(uncle)) {
        x->_M_parent->_M_color = _S_black;
        uncle->_M_color = _S_black;
        gp->_M_color = _S_red;
        x = gp;
      } else {
        if (x == x->_M_parent->_M_left) {
          x = x->_M_parent;
          rotate_right(x, root);
        }
        x->_M_parent->_M_color = _S_black;
        gp->_M_color = _S_red;
        rotate_left(gp, root);
      }
    }
  }
  root->_M_color = _S_black;
}

_Rb_tree_node_base* _Rb_tree_rebalance_for_erase(_Rb_tree_node_base* const z,
                                                 _Rb_tree_node_base& header) throw() {
  Node*& root = header._M_parent;
  Node*& leftmost = header._M_left;
  Node*& rightmost = header._M_right;
  Node* y = z;  // the node that leaves the tree's shape
  Node* x = nullptr;
  Node* x_parent = nullptr;
  if (y->_M_left == nullptr) {
    x = y->_M_right;
  } else if (y->_M_right == nullptr) {
    x = y->_M_left;
  } else {
    y = y->_M_right;  // z's successor
    while (y->_M_left) y = y->_M_left;
    x = y->_M_right;
  }
  if (y != z) {
    // Move the successor y into z's place.
    z->_M_left->_M_parent = y;
    y->_M_left = z->_M_left;
    if (y != z->_M_right) {
      x_parent = y->_M_parent;
      if (x) x->_M_parent = y->_M_parent;
      y->_M_parent->_M_left = x;
      y->_M_right = z->_M_right;
      z->_M_right->_M_parent = y;
    } else {
      x_parent = y;
    }
    if (root == z)
      root = y;
    else if (z->_M_parent->_M_left == z)
      z->_M_parent->_M_left = y;
    else
      z->_M_parent->_M_right = y;
    y->_M_parent = z->_M_parent;
    _Rb_tree_color c = y->_M_color;
    y->_M_color = z->_M_color;
    z->_M_color = c;
    y = z;  // the colour to fix up is now z's
  } else {
    x_parent = y->_M_parent;
    if (x) x->_M_parent = y->_M_parent;
    if (root == z)
      root = x;
    else if (z->_M_parent->_M_left == z)
      z->_M_parent->_M_left = x;
    else
      z->_M_parent->_M_right = x;
    if (leftmost == z) {
      if (z->_M_right == nullptr) {
        leftmost = z->_M_parent;
      } else {
        Node* m = x;
        while (m->_M_left) m = m->_M_left;
        leftmost = m;
      }
    }
    if (rightmost == z) {
      if (z->_M_left == nullptr) {
        rightmost = z->_M_parent;
      } else {
        Node* m = x;
        while (m->_M_right) m = m->_M_right;
        rightmost = m;
      }
    }
  }
  if (y->_M_color != _S_red) {
    while (x != root && is_black(x)) {
      if (x == x_parent->_M_left) {
        Node* w = x_parent->_M_right;
        if (w->_M_color == _S_red) {
          w->_M_color = _S_black;
          x_parent->_M_color = _S_red;
          rotate_left(x_parent, root);
          w = x_parent->_M_right;
        }
        if (is_black(w->_M_left) && is_black(w->_M_right)) {
          w->_M_color = _S_red;
          x = x_parent;
          x_parent = x_parent->_M_parent;
        } else {
          if (is_black(w->_M_right)) {
            w->_M_left->_M_color = _S_black;
            w->_M_color = _S_red;
            rotate_right(w, root);
            w = x_parent->_M_right;
          }
          w->_M_color = x_parent->_M_color;
          x_parent->_M_color = _S_black;
          if (w->_M_right) w->_M_right->_M_color = _S_black;
          rotate_left(x_parent, root);
          break;
        }
      } else {
        Node* w = x_parent->_M_left;
        if (w->_M_color == _S_red) {
          w->_M_color = _S_black;
          x_parent->_M_color = _S_red;
          rotate_right(x_parent, root);
          w = x_parent->_M_left;
        }
        if (is_black(w->_M_right) && is_black(w->_M_left)) {
          w->_M_color = _S_red;
          x = x_parent;
          x_parent = x_parent->_M_parent;
        } else {
          if (is_black(w->_M_left)) {
            w->_M_right->_M_color = _S_black;
            w->_M_color = _S_red;
            rotate_left(w, root);
            w = x_parent->_M_left;
          }
          w->_M_color = x_parent->_M_color;
          x_parent->_M_color = _S_black;
          if (w->_M_left) w->_M_left->_M_color = _S_black;
          rotate_right(x_parent, root);
          break;
        }
      }
    }
    if (x) x->_M_color = _S_black;
  }
  return y;
}

}  // namespace std
