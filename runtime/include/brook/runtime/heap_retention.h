// RetainFreedHeapMemory: makes the process's malloc keep memory it frees for reuse instead of
// handing it back to the kernel at once. Task managers call it when they start.
//
// Why: on the virtual machines Brook runs on, the first touch of a page costs a trap into the
// hypervisor (about 15-20 us per 4 KiB page measured here), and checkpoints churn through big
// buffers: LMDB stages every value of a snapshot (one key group, often many MiB) in malloc'd
// pages and frees them at each batch commit. With glibc's defaults a whole freed arena heap is
// unmapped (and a freed big chunk trimmed), so the next batch faults all of it in again: at 1 GiB
// of keyed state that was about half the page faults of a run with checkpoints every second.
// Kept heaps are reused without faults; what stays resident is about one batch per snapshot
// thread.
//
// glibc only (a no-op elsewhere). Leaves malloc alone when the user tuned it through the
// MALLOC_*_ environment variables or GLIBC_TUNABLES. Idempotent; any thread.
#pragma once

namespace brook {

void RetainFreedHeapMemory();

}  // namespace brook
