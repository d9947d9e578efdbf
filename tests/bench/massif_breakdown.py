#!/usr/bin/env python3
"""Where a fleet's heap goes, per device, from one massif snapshot.

    FLEET_BENCH_MASSIF_SNAPSHOT=/tmp/snap valgrind --tool=massif \\
            --threshold=0.01 --depth=60 --massif-out-file=/dev/null \\
            build/dev/tests/bench/fleet_bench --child 1000 --child-record 1
    tests/bench/massif_breakdown.py /tmp/snap 1000

The snapshot is taken when every device is registered (see fleet_run.cc).
Each leaf of the heap tree goes to the first rule (below) anchored closest
to the allocator, so libcoap's own allocations count as libcoap even when
our code called them, and our containers count as ours.
"""
import collections
import re
import sys

# (part, substrings that must all occur in the call path). '^name' matches
# a frame whose function starts with name; the first substring anchors.
RULES = [
    ('device timeline: vector<Event> storage', ['vector<hil::Event', 'Device::']),
    ('device timeline: event strings', ['Device::record']),
    ('device timeline: event strings', ['coap::describe', 'Device::send']),
    ('client core: action queue capacity (vector<Action>)',
     ['vector<std::variant<hil::lwm2m::SendRequest']),
    ('client core: event strings', ['Client::event']),
    ('bootstrap server: per-endpoint result + events', ['BootstrapServerCore']),
    ('registration server: registrations + events', ['RegistrationServerCore']),
    ('libcoap: server-side sessions (both servers)',
     ['^coap_make_session', '^coap_endpoint_get_session']),
    ('libcoap: device-side sessions',
     ['^coap_make_session', '^coap_session_create_client']),
    ('libcoap: other (PDUs, endpoints, contexts)', ['^coap_']),
    ('dedup caches (answers kept for retransmitted requests)', ['DedupCache']),
    ('client core: object trees', ['ObjectTree']),
    ('client core: object trees', ['bootstrap_write']),
    ('client core: object trees', ['hil::lwm2m::Resource']),
    ('client core: object trees', ['Client::Client']),
    ('client core: other (exit counts, pending, location)', ['hil::lwm2m::Client']),
    ('timers: std::function + hash node (Loop::at)', ['Loop::at']),
    ('device: sessions map + Session', ['Device::session_for']),
    ('device: the Device object (config, client core inline)', ['Runtime::add_devices']),
    ('servers: peer tables', ['PeerTable']),
    ('transport: pending requests by token', ['Context::send']),
]

NODE = re.compile(r'^( *)n(\d+): (\d+) (.*)$')


def frame(label):
    m = re.match(r'0x[0-9A-F]+: (.*?)(?: \(([^()]*)\))?$', label)
    return m.group(1) if m else label


def leaves(path):
    """(self bytes, [frames from the allocator outwards]) of the first tree."""
    lines = open(path).read().split('\n')
    start = next(i for i, l in enumerate(lines) if l == 'heap_tree=detailed')
    stack, out = [], []

    def pop_to(depth):
        while stack and stack[-1][0] >= depth:
            _, total, children, frames = stack.pop()
            if total > children:
                out.append((total - children, frames))

    for line in lines[start + 1:]:
        m = NODE.match(line)
        if not m:
            break
        depth, total = len(m.group(1)), int(m.group(3))
        pop_to(depth)
        frames = stack[-1][3] + [frame(m.group(4))] if stack else []
        if stack:
            stack[-1][2] += total
        stack.append([depth, total, 0, frames])
    pop_to(0)
    return out


def hit(sub, f):
    return f.startswith(sub[1:]) if sub[0] == '^' else sub in f


def part(frames):
    best = None
    for order, (name, subs) in enumerate(RULES):
        if not all(any(hit(s, f) for f in frames) for s in subs):
            continue
        at = next(i for i, f in enumerate(frames) if hit(subs[0], f))
        if best is None or (at, order) < best[0]:
            best = ((at, order), name)
    return best[1] if best else 'other (runtime, servers, static)'


def main():
    path, n = sys.argv[1], int(sys.argv[2])
    parts = collections.Counter()
    for size, frames in leaves(path):
        parts[part(frames)] += size
    total = sum(parts.values())
    for name, size in parts.most_common():
        print(f'{size / n:8.0f} B/device {100 * size / total:5.1f}%  {name}')
    print(f'{total / n:8.0f} B/device  useful heap in all (N={n})')
    extra = re.search(r'mem_heap_extra_B=(\d+)', open(path).read())
    if extra:
        print(f'{int(extra.group(1)) / n:8.0f} B/device  malloc overhead '
              '(headers, alignment)')


if __name__ == '__main__':
    main()
