#!/usr/bin/env python3
"""Walks the edge's TLSBufferAllocator mappings (each starts with its length) in its anonymous memory and reports, per
mapping size, how many of its pages are resident (/proc/PID/pagemap) and how far its non-zero bytes reach.
usage (as root, while the edge holds its connections): mappings.py PID"""
import sys, re, struct, collections
pid = int(sys.argv[1])
mem = open(f'/proc/{pid}/mem', 'rb', buffering=0)
pm = open(f'/proc/{pid}/pagemap', 'rb', buffering=0)
PG = 4096
def present(addr):
    pm.seek((addr // PG) * 8)
    return (struct.unpack('<Q', pm.read(8))[0] >> 63) & 1
stats = collections.defaultdict(lambda: [0, 0, collections.Counter(), collections.Counter()])
H = 64 << 20
for line in open(f'/proc/{pid}/maps'):
    m = re.match(r'^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ (\d+)\s*(.*)$', line)
    start, end, perm, inode, name = int(m[1], 16), int(m[2], 16), m[3], int(m[4]), m[5].strip()
    if perm != 'rw-p' or inode != 0 or name: continue
    if start % H == 0: continue  # thread heap
    a = start
    while a + 16 <= end:
        mem.seek(a); hdr = mem.read(16)
        size = struct.unpack('<Q', hdr[0:8])[0] | 2  # TLSBufferAllocator: the mapping's length first
        if not (size & 2) or (size & ~7) < PG or a + (size & ~7) > end:
            break
        n = size & ~7
        pages = n // PG
        res = [present(a + i * PG) for i in range(pages)]
        s = stats[n]
        s[0] += 1; s[1] += sum(res)
        s[2][tuple(i for i, r in enumerate(res) if r)] += 1
        # how far do non-zero bytes reach (in resident pages only)
        last = 0
        for i in range(pages - 1, -1, -1):
            if res[i]:
                mem.seek(a + i * PG); b = mem.read(PG).rstrip(b'\0')
                if b: last = i * PG + len(b); break
        s[3][(last + 1023) // 1024] += 1
        a += n
for n, (count, res, patterns, reach) in sorted(stats.items()):
    print(f'chunk {n//1024} KiB: {count} chunks, {res/count:.2f} resident pages each ({res*4/count:.1f} KiB)')
    for p, c in patterns.most_common(4): print(f'   resident pages {p}: {c}')
    print('   non-zero bytes reach (KiB):', sorted(reach.most_common(6)))
