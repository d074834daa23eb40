// SlicingWindowOperator: tumbling and sliding windows (event or processing time) with an
// incremental function (reduce, aggregate) and the default trigger. Time is cut into slices of
// gcd(size, slide) ms; each record is aggregated once, into its slice, and a window that fires
// merges the size/slice accumulators of its slices. Flink's WindowOperator instead adds each
// record to each of its size/slide windows; here the cost of a record does not depend on how
// many windows share it. Tumbling windows are the case of one slice per window.
//
//   time   |----|----|----|----|----|----|     slices (namespace: slice end)
//   window [-------------------)               size = 4 slices, slide = 2 slices
//   window           [-------------------)
//
// Timers, per key, in the namespace of a window end `e`:
// - the fire timer at e - 1. A slice created for a key registers it for the first window that
//   holds the slice (and has not fired); firing window e registers e + slide if the slices that
//   e shares with e + slide hold anything, so every window holding a record fires, in order,
//   with one timer registration per window and none per record.
// - the cleanup timer at e - 1 + allowedLateness (the same timer when the lateness is 0): it
//   drops the slices that no later window holds.
// A record whose slice belongs to windows that fired already (late but within the lateness)
// re-fires them with the updated contents at once, as Flink's EventTimeTrigger does; a record
// too late for all its windows goes to the late side output or is dropped and counted.
//
// Firing long sliding windows (more than slide/slice + 4 slices per window) does not re-merge all
// of a window's slices each time: per key, a two-stacks scan (keyed state too) keeps
//   "window-suffix" (namespace: window end e): the merge of e's slices up to a boundary B, for
//                   the windows after the last fired one that hold slices before B;
//   "window-scan"   (namespace 0): B, the last fired window, and the merge of the slices after B.
// Window e + slide then merges the slide/slice new slices into the latter and combines it with
// its suffix; once no suffix is left, a flip at the firing window e sets B = e and computes the
// suffixes of the next size/slide windows from e's slices. So firing costs O(slide/slice)
// accesses amortized, not O(size/slice). A record behind the watermark (the only kind that can
// change a slice already merged into the scan) discards the key's scan; the next firing flips.
//
// Threading: the task thread. Life cycle: window_operator_base.h.
#pragma once

#include <algorithm>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <utility>

#include "brook/operators/window_operator_base.h"

namespace brook {

template <typename K, typename In, typename Out, typename KeySelector, typename Assigner,
          typename Function>
class SlicingWindowOperator final
    : public WindowOperatorBase<K, In, Out, KeySelector, Assigner, Function> {
  using Base = WindowOperatorBase<K, In, Out, KeySelector, Assigner, Function>;
  using typename Base::Acc;
  using typename Base::Timer;
  static_assert(Assigner::kSliceable && Function::kIncremental);

  // The two-stacks scan of one key (see above).
  struct ScanHead {
    Timestamp boundary;       // B: a window end; suffixes hold slices up to it
    Timestamp last_fired;     // the window fired last
    Timestamp last_nonempty;  // the end of the latest slice seen holding something
  };
  using Scan = std::pair<ScanHead, std::optional<Acc>>;  // and the merge of the slices after B

 public:
  // REQUIRES (throws std::invalid_argument): slide <= size.
  SlicingWindowOperator(KeySelector key_selector, Assigner assigner, Function function,
                        WindowSettings settings)
      : Base(std::move(key_selector), std::move(assigner), std::move(function),
             std::move(settings)),
        size_(this->assigner_.size()),
        slide_(this->assigner_.slide()),
        offset_(this->assigner_.offset()),
        slice_(std::gcd(size_, slide_)),
        use_scan_(size_ / slice_ > slide_ / slice_ + 4) {
    if (slide_ > size_)
      throw std::invalid_argument("slicing needs slide <= size; use WindowOperator otherwise");
  }

  void Open(RuntimeContext& context) override {
    Base::Open(context);
    if (use_scan_) {
      auto& backend = this->support_.backend();
      scan_ = &backend.GetState(ValueStateDescriptor<Scan>{"window-scan"});
      suffix_ = &backend.GetState(ValueStateDescriptor<Acc>{"window-suffix"});
    }
  }

  void ProcessBatch(RecordBatch<In>& batch) override {
    const Timestamp now = Assigner::kEventTime ? 0 : this->ProcessingTime();
    const Timestamp watermark = this->CurrentWatermark();
    for (const auto& r : batch.records) {
      const Timestamp t = this->WindowTime(r, now);
      if (t < slice_info_.start || t >= slice_info_.end) [[unlikely]]
        slice_info_ = SliceOf(t);
      const SliceInfo& slice = slice_info_;
      if constexpr (Assigner::kEventTime) {
        if (slice.last_cleanup <= watermark) [[unlikely]] {
          this->LateRecord(r);
          continue;
        }
      }
      this->support_.SetCurrentKey(this->key_selector_(r.value));
      if (this->AddToContents(slice.end, r.value)) [[unlikely]]
        RegisterFirstFireTimer(slice, watermark);
      if constexpr (Assigner::kEventTime) {
        if (slice.first_window_end - 1 <= watermark) [[unlikely]] {
          DiscardScan();  // the slice may be merged into it already
          FireLateWindows(slice, watermark);
        }
      }
    }
    this->PushBuffered();
  }

  int64_t slice_size() const { return slice_; }
  // Whether firing uses the two-stacks scan rather than merging every slice of the window.
  bool uses_scan() const { return use_scan_; }

 private:
  // A slice [start, end) and the ends of the first and last windows that hold it.
  struct SliceInfo {
    Timestamp start = 1;
    Timestamp end = 0;  // empty until the first record
    Timestamp first_window_end = 0;
    Timestamp last_window_end = 0;
    Timestamp last_cleanup = 0;  // CleanupTime of the last window: the slice is needed until then
  };

  SliceInfo SliceOf(Timestamp t) const {
    SliceInfo s;
    s.start = TimeWindow::getWindowStartWithOffset(t, offset_, slice_);
    s.end = s.start + slice_;
    // The windows [w, w + size), w = offset (mod slide), holding it: end - size <= w <= start.
    s.last_window_end = TimeWindow::getWindowStartWithOffset(s.start, offset_, slide_) + size_;
    s.first_window_end = FirstWindowEndFrom(s.end);
    s.last_cleanup = this->CleanupTime(s.last_window_end - 1);
    return s;
  }

  // The end of the earliest window ending at or after `t`.
  Timestamp FirstWindowEndFrom(Timestamp t) const {
    return TimeWindow::getWindowStartWithOffset(t - 1, offset_ + size_, slide_) + slide_;
  }

  // The slice was just created: schedule the first of its windows that has not fired yet.
  void RegisterFirstFireTimer(const SliceInfo& slice, Timestamp watermark) {
    Timestamp e = slice.first_window_end;
    if constexpr (Assigner::kEventTime) {
      if (e - 1 <= watermark) {
        if (watermark >= slice.last_window_end - 1) return;  // every window holding it fired
        e = FirstWindowEndFrom(watermark + 2);               // first with e - 1 > watermark
      }
    }
    RegisterFireTimer(e);
  }

  void RegisterFireTimer(Timestamp window_end) {
    auto& timers = this->support_.timers();
    if constexpr (Assigner::kEventTime) {
      timers.RegisterEventTimeTimer(this->support_.current_key(), window_end, window_end - 1);
    } else {
      timers.RegisterProcessingTimeTimer(this->support_.current_key(), window_end, window_end - 1);
    }
  }

  // A record of `slice` arrived after some of its windows fired: re-fire those still within the
  // allowed lateness, with the record, and make sure they are cleaned up.
  void FireLateWindows(const SliceInfo& slice, Timestamp watermark) {
    for (Timestamp e = slice.first_window_end; e <= slice.last_window_end && e - 1 <= watermark;
         e += slide_) {
      const Timestamp cleanup = this->CleanupTime(e - 1);
      if (cleanup <= watermark) continue;  // cleaned up already
      MergeAllSlices(e);
      RegisterCleanupTimer(e, cleanup);
    }
  }

  void RegisterCleanupTimer(Timestamp window_end, Timestamp cleanup) {
    if (cleanup == kMaxWatermark) return;  // never: keep the slices
    this->support_.timers().RegisterEventTimeTimer(this->support_.current_key(), window_end,
                                                   cleanup);
  }

  void OnTimer(const Timer& timer, TimeDomain) override {
    const Timestamp e = timer.ns;
    const Timestamp cleanup = this->CleanupTime(e - 1);
    if (timer.time == e - 1) {
      if (FireWindow(e)) RegisterFireTimer(e + slide_);
      if (cleanup != timer.time) RegisterCleanupTimer(e, cleanup);
    }
    if (timer.time == cleanup) DropSlicesOnlyIn(e);
    if constexpr (!Assigner::kEventTime) this->PushBuffered();  // between batches: send now
  }

  // Emits window [e - size, e) of the current key. Returns whether the slices it shares with the
  // next window hold anything (then that window must fire too).
  bool FireWindow(Timestamp e) {
    if (!use_scan_) return MergeAllSlices(e);
    std::optional<Scan> scan = LoadScan();
    if (!scan || scan->first.last_fired != e - slide_ || e - size_ >= scan->first.boundary) {
      if (scan) DiscardScan(*scan);
      return Flip(e);
    }
    // The next window of the scan: fold its new slices into the back, combine with its suffix.
    ScanHead& head = scan->first;
    std::optional<Acc>& back = scan->second;
    for (Timestamp slice_end = e - slide_ + slice_; slice_end <= e; slice_end += slice_) {
      std::optional<Acc> slice_acc = ReadSlice(slice_end);
      if (!slice_acc) continue;
      head.last_nonempty = slice_end;
      MergeLater(std::move(*slice_acc), back);
    }
    suffix_->SetNamespace(e);
    std::optional<Acc> acc = suffix_->value();
    suffix_->clear();
    if (back) MergeLater(*back, acc);
    head.last_fired = e;
    return AfterScanFire(e, *scan, acc);
  }

  // Starts the scan at window e: B = e, and the suffixes of the windows after e that hold slices
  // of e, from e's slices merged newest first.
  bool Flip(Timestamp e) {
    Scan scan{ScanHead{e, e, kMinWatermark}, std::nullopt};
    std::optional<Acc> running;
    for (Timestamp slice_end = e; slice_end > e - size_; slice_end -= slice_) {
      if (std::optional<Acc> slice_acc = ReadSlice(slice_end)) {
        scan.first.last_nonempty = std::max(scan.first.last_nonempty, slice_end);
        MergeLater(std::move(running), slice_acc);  // the slice is earlier than what follows it
        running = std::move(slice_acc);
      }
      const Timestamp slice_start = slice_end - slice_;
      const bool starts_window =
          TimeWindow::getWindowStartWithOffset(slice_start, offset_, slide_) == slice_start;
      if (starts_window && slice_start > e - size_ && running) {
        suffix_->SetNamespace(slice_start + size_);
        suffix_->update(*running);
      }
    }
    return AfterScanFire(e, scan, running);
  }

  bool AfterScanFire(Timestamp e, const Scan& scan, const std::optional<Acc>& acc) {
    if (acc) this->Emit(TimeWindow{e - size_, e}, *acc);
    const bool next_needed = scan.first.last_nonempty - slice_ >= e + slide_ - size_;
    if (next_needed) {
      scan_->SetNamespace(0);
      scan_->update(scan);
    } else {
      DiscardScan(scan);
    }
    return next_needed;
  }

  std::optional<Scan> LoadScan() {
    scan_->SetNamespace(0);
    return scan_->value();
  }
  // Drops the current key's scan, if any, with its remaining suffixes.
  void DiscardScan() {
    if (!use_scan_) return;
    if (std::optional<Scan> scan = LoadScan()) DiscardScan(*scan);
  }
  void DiscardScan(const Scan& scan) {
    for (Timestamp e = scan.first.last_fired + slide_; e < scan.first.boundary + size_;
         e += slide_) {
      suffix_->SetNamespace(e);
      suffix_->clear();
    }
    scan_->SetNamespace(0);
    scan_->clear();
  }

  std::optional<Acc> ReadSlice(Timestamp slice_end) {
    this->contents_->SetNamespace(slice_end);
    return this->contents_->accumulator();
  }
  // into = into then later (Merge keeps `into` first, so reduce sees time order).
  void MergeLater(std::optional<Acc> later, std::optional<Acc>& into) {
    if (!later) return;
    if (into) {
      this->function_.aggregate.Merge(*later, *into);
    } else {
      into = std::move(later);
    }
  }

  // Emits window e merging every one of its slices in time order (short windows, and re-fires of
  // late windows).
  bool MergeAllSlices(Timestamp e) {
    std::optional<Acc> acc;
    bool next_needed = false;
    const Timestamp next_start = e + slide_ - size_;
    for (Timestamp slice_end = e - size_ + slice_; slice_end <= e; slice_end += slice_) {
      this->contents_->SetNamespace(slice_end);
      std::optional<Acc> slice_acc = this->contents_->accumulator();
      if (!slice_acc) continue;
      if (slice_end - slice_ >= next_start) next_needed = true;
      if (acc) {
        this->function_.aggregate.Merge(*slice_acc, *acc);
      } else {
        acc = std::move(slice_acc);
      }
    }
    if (acc) this->Emit(TimeWindow{e - size_, e}, *acc);
    return next_needed;
  }

  // Window e is done: drops its slices that the next window does not hold.
  void DropSlicesOnlyIn(Timestamp e) {
    for (Timestamp slice_end = e - size_ + slice_; slice_end <= e - size_ + slide_;
         slice_end += slice_) {
      this->ClearContents(slice_end);
    }
  }

  const int64_t size_;
  const int64_t slide_;
  const int64_t offset_;
  const int64_t slice_;
  const bool use_scan_;
  ValueState<Scan>* scan_ = nullptr;   // with use_scan_
  ValueState<Acc>* suffix_ = nullptr;  // with use_scan_
  SliceInfo slice_info_;  // of the last record: consecutive records mostly share a slice
};

}  // namespace brook
