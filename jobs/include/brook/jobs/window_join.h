// Window joins (Flink's DataStream.join): records of two streams with equal keys that fall into
// the same window are paired, and fn(a, b) makes one output per pair (an inner join):
//
//   orders.join(payments)
//       .where([](const Order& o) { return o.id; })
//       .equalTo([](const Payment& p) { return p.order_id; })
//       .window(TumblingEventTimeWindows::of(60'000))
//       .apply([](const Order& o, const Payment& p) { return Paid{o.id, p.amount}; });
//
// As in Flink, both streams are tagged, unioned, keyed and windowed; the window function pairs
// the window's left and right records when it fires.
#pragma once

#include <optional>
#include <utility>
#include <vector>

#include "brook/jobs/windowed_stream.h"
#include "brook/runtime/serde.h"

namespace brook {

// One record of either side of a join, as it travels through the shared window.
template <typename A, typename B>
struct JoinElement {
  std::optional<A> left;
  std::optional<B> right;
};

template <typename A, typename B>
struct Serde<JoinElement<A, B>> {
  static void Write(BufferWriter& out, const JoinElement<A, B>& e) {
    Serde<std::optional<A>>::Write(out, e.left);
    Serde<std::optional<B>>::Write(out, e.right);
  }
  static void Read(BufferReader& in, JoinElement<A, B>& e) {
    Serde<std::optional<A>>::Read(in, e.left);
    Serde<std::optional<B>>::Read(in, e.right);
  }
};

template <typename A, typename B>
class JoinedStreams {
 public:
  JoinedStreams(DataStream<A> left, DataStream<B> right)
      : left_(std::move(left)), right_(std::move(right)) {}

  template <typename KeyA>
  auto where(KeyA key_a) {
    return Where<KeyA>(left_, right_, std::move(key_a));
  }

  template <typename KeyA>
  class Where {
   public:
    Where(DataStream<A> left, DataStream<B> right, KeyA key_a)
        : left_(std::move(left)), right_(std::move(right)), key_a_(std::move(key_a)) {}

    template <typename KeyB>
    auto equalTo(KeyB key_b) {
      return EqualTo<KeyB>(left_, right_, key_a_, std::move(key_b));
    }

    template <typename KeyB>
    class EqualTo {
     public:
      using K = std::decay_t<std::invoke_result_t<KeyA&, const A&>>;
      static_assert(std::is_same_v<K, std::decay_t<std::invoke_result_t<KeyB&, const B&>>>,
                    "join keys of both sides must have the same type");

      EqualTo(DataStream<A> left, DataStream<B> right, KeyA key_a, KeyB key_b)
          : left_(std::move(left)), right_(std::move(right)), key_a_(key_a), key_b_(key_b) {}

      template <typename Assigner>
      auto window(Assigner assigner) {
        return WithWindow<Assigner>(*this, std::move(assigner));
      }

      template <typename Assigner>
      class WithWindow {
       public:
        WithWindow(EqualTo join, Assigner assigner)
            : join_(std::move(join)), assigner_(std::move(assigner)) {}

        // fn(const A&, const B&) -> Out, once per pair with equal keys in the same window.
        template <typename F>
        auto apply(F fn) {
          using Out = std::decay_t<std::invoke_result_t<F&, const A&, const B&>>;
          using E = JoinElement<A, B>;
          auto key_a = join_.key_a_;
          auto key_b = join_.key_b_;
          auto tagged_left =
              join_.left_.map([](const A& a) { return E{a, std::nullopt}; }).name("join left");
          auto tagged_right =
              join_.right_.map([](const B& b) { return E{std::nullopt, b}; }).name("join right");
          return tagged_left.unionWith(tagged_right)
              .keyBy([key_a, key_b](const E& e) { return e.left ? key_a(*e.left) : key_b(*e.right); })
              .window(assigner_)
              .template process<Out>([fn](const K&, const auto&, const std::vector<E>& elements,
                            Collector<Out>& out) {
                for (const E& l : elements) {
                  if (!l.left) continue;
                  for (const E& r : elements)
                    if (r.right) out.collect(fn(*l.left, *r.right));
                }
              })
              .name("window join");
        }

       private:
        EqualTo join_;
        Assigner assigner_;
      };

     private:
      DataStream<A> left_;
      DataStream<B> right_;
      KeyA key_a_;
      KeyB key_b_;
    };

   private:
    DataStream<A> left_;
    DataStream<B> right_;
    KeyA key_a_;
  };

 private:
  DataStream<A> left_;
  DataStream<B> right_;
};

template <typename T>
template <typename B>
JoinedStreams<T, B> DataStream<T>::join(const DataStream<B>& other) const {
  return JoinedStreams<T, B>(*this, other);
}

}  // namespace brook
