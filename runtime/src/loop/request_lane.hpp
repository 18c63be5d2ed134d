#pragma once

// The requests the loop handed to one actor that no instance took yet.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include <caf/actor.hpp>

#include "loop/bulk_reports.hpp"
#include "loop/direct_notes.hpp"
#include "loop/thread_doorbell.hpp"
#include "loopbridge/detail/request_state.hpp"
#include "threads/spin_lock.hpp"

namespace loopbridge::detail {

/// The instance a direct submitter must wake (`request_lane::push_direct`): its doorbell when
/// it runs on a thread of its own, else its actor (sent a drain message); neither when it is
/// busy and takes the request when it is done.
struct direct_wake {
  caf::actor actor;
  std::shared_ptr<thread_doorbell> door;
};

/// The requests the event loop has handed to one actor and that none of its instances has taken
/// yet: one queue shared by every instance of the actor (a pool), from which each instance takes
/// the next request when it is free. A request therefore never waits behind a running one while
/// another instance of the pool is idle (work-conserving), including right after a spawn, when
/// instances become ready one by one.
///
/// An instance that finds the lane empty is registered idle; the loop's `push` returns one idle
/// instance to wake (at most one per request), so wake-ups go only to instances that sleep, and
/// busy instances pick up new requests without any. In a chained lane (instances on threads of
/// their own, each with a doorbell: `set_doorbell`) the loop wakes at most one per batch, and
/// an instance that takes a request while more wait wakes the next idle one (`take`): the
/// wake-ups leave the loop's thread, and a pool is woken only as far as there is work.
///
/// Taking a request assigns it to the instance's incarnation (`request_state::assign_owner`) in
/// the same step, so a request is always either in the lane or owned by exactly one instance.
/// The loop withdraws a request that was cancelled or timed out before any instance took it
/// (`withdraw`): no instance will take it, and the loop settles it at once instead of waiting
/// for an instance to reach it behind the ones running.
///
/// A lane the loop keeps *open* (`open_direct`: a one-instance local actor with nothing
/// queued in the loop) also takes requests straight from submitters (`push_direct`), who wake
/// the instance themselves when it waits for work (its actor, or its thread's doorbell): a round
/// trip then needs no turn of the event loop, which takes the request in afterwards from its note
/// (`direct_notes`). The note is made under the lane's lock, so once the loop closed the lane
/// (`close_direct`) every request that went in directly has its note.
///
/// Threads: `push` and `reclaim` by the event loop; `take` and `leave` by instances (any thread),
/// each for its own index; `push_direct` by submitters (any thread). All operations are short
/// critical sections under one spin lock. Ordering: FIFO.
class request_lane {
public:
  static constexpr std::uint32_t none = UINT32_MAX;

  /// A lane for `instances` instances, which report to the loop in bulk through `bulk`;
  /// `chained`: each instance has a doorbell (see the class comment).
  request_lane(std::uint32_t instances, std::shared_ptr<bulk_reports> bulk, bool chained = false)
      : bulk(std::move(bulk)) {
    if (instances > 1) {
      many_ = std::make_unique<instance_entry[]>(instances);
      entries_ = many_.get();
    }
    if (chained)
      doors_ = std::make_unique<std::shared_ptr<thread_doorbell>[]>(instances);
  }

  /// The doorbell of instance `i`'s current incarnation (chained lanes). The loop, before the
  /// incarnation starts.
  void set_doorbell(std::uint32_t i, std::shared_ptr<thread_doorbell> door) {
    std::lock_guard<spin_lock> guard{mutex_};
    if (doors_)
      doors_[i] = std::move(door);
  }

  /// Set by the loop when its actor has stopped, before it tells the instances to exit: their
  /// exits then go to `bulk->exits`.
  std::atomic<bool> stopped{false};
  /// The loop's lists of reports that instances send in bulk (exits, readiness).
  const std::shared_ptr<bulk_reports> bulk;

  /// Set by the loop when requests wait in the actor's queue because its instances hold all
  /// they may: an instance that suspends one (`actor_counters::suspended`) then asks the loop
  /// to hand out more.
  std::atomic<bool> starved{false};
  /// Held by the one idle instance of the actor that spins for work before it waits (threads
  /// of their own only): one spinning thread catches the next request without a wake-up, and
  /// the others wait without taking cores.
  std::atomic<bool> spinner{false};
  request_lane(const request_lane&) = delete;
  request_lane& operator=(const request_lane&) = delete;
  /// Releases the requests nobody took (the loop reclaimed what it tracks before).
  ~request_lane() {
    while (auto* st = pop_locked())
      st->release();
  }

  /// Appends `st` (one reference transferred) and returns an idle instance to wake, or `none`.
  std::uint32_t push(request_state* st) noexcept {
    std::lock_guard<spin_lock> guard{mutex_};
    append_locked(st);
    return pop_idle_locked();
  }

  /// Appends `batch` in order (one reference each transferred) under one lock, and adds to
  /// `wake` one idle instance per request while there are idle ones.
  /// In a chained lane, at most one per batch: that one wakes the next (`take`).
  void push(const std::vector<request_state*>& batch, std::vector<std::uint32_t>& wake) {
    std::lock_guard<spin_lock> guard{mutex_};
    for (auto* st : batch) {
      append_locked(st);
      if (doors_ && !wake.empty())
        continue;
      if (auto i = pop_idle_locked(); i != none)
        wake.push_back(i);
    }
  }

  /// Opens the lane to submitters (`push_direct`); `instance` is the handle of its one instance
  /// and `door` its doorbell if it runs on a thread of its own (else null): submitters wake it
  /// as the loop would. The event loop.
  void open_direct(caf::actor instance, std::shared_ptr<thread_doorbell> door) noexcept {
    std::lock_guard<spin_lock> guard{mutex_};
    direct_ = std::move(instance);
    direct_door_ = std::move(door);
  }
  /// Closes it: from the return on, no submitter pushes here, and every request one pushed
  /// has its note in `direct_notes`. The event loop.
  void close_direct() noexcept {
    caf::actor gone;
    std::shared_ptr<thread_doorbell> door;
    {
      std::lock_guard<spin_lock> guard{mutex_};
      gone.swap(direct_);
      door.swap(direct_door_);
    }
  }

  /// A submitter: if the lane is open, notes `st` in `notes` (adopting the caller's reference,
  /// the loop's from then on), appends it with a reference of its own, sets `wake` to the
  /// instance when it waits for work (the caller wakes it, not under the lock) and returns
  /// what `notes` said (`wake`: the loop must be woken too). `refused` (nothing changed, the
  /// reference stays the caller's) if the lane is closed.
  direct_notes::added push_direct(request_state* st, direct_notes& notes,
                                  direct_wake& wake) noexcept {
    std::lock_guard<spin_lock> guard{mutex_};
    if (!direct_)
      return direct_notes::added::refused;
    auto added = notes.add(st);
    if (added == direct_notes::added::refused)
      return added;
    st->add_ref(); // the lane's
    append_locked(st);
    if (pop_idle_locked() != none) { // else it is busy, and takes this one when it is done
      if (direct_door_)
        wake.door = direct_door_;
      else
        wake.actor = direct_;
    }
    return added;
  }

  /// An idle instance to wake if requests wait in the lane, or `none` (the loop calls it when
  /// an instance it may have woken is gone).
  std::uint32_t wake_one() noexcept {
    std::lock_guard<spin_lock> guard{mutex_};
    return has_live_locked() ? pop_idle_locked() : none;
  }

  /// Marks `st` withdrawn if no instance took it yet, and returns true: no instance takes it
  /// from then on (it stays in the list, holding the lane's reference, until `take` or
  /// `reclaim` passes it and releases that). False if an instance took it. The loop.
  bool withdraw(request_state* st) noexcept {
    std::lock_guard<spin_lock> guard{mutex_};
    if (st->owner() != 0)
      return false;
    st->assign_owner(withdrawn);
    return true;
  }

  /// Instance `i` (incarnation `token`) takes up to `max` requests into `out`, in order, now its
  /// own, and returns how many; or, when there is none, registers as idle (the next `push`
  /// wakes it) and returns 0.
  /// In a chained lane, when requests still wait after the take, `next` receives the doorbell
  /// of an idle instance for the caller to ring (after this returns: not under the lock).
  std::size_t take(std::uint32_t i, std::uint32_t token, request_state** out, std::size_t max,
                   std::shared_ptr<thread_doorbell>* next = nullptr) noexcept {
    std::lock_guard<spin_lock> guard{mutex_};
    auto& s = entries_[i].state;
    std::size_t n = 0;
    while (n < max) {
      auto* st = pop_live_locked();
      if (!st)
        break;
      st->assign_owner(token);
      out[n++] = st;
    }
    if (n > 0) {
      s &= static_cast<std::uint8_t>(~waiting);
      if (doors_ && next && has_live_locked())
        if (auto j = pop_idle_locked(); j != none)
          *next = doors_[j];
      return n;
    }
    list_idle_locked(i);
    return 0;
  }

  /// Instance `i` takes nothing more (it stops or died): it is no longer woken.
  void leave(std::uint32_t i) noexcept {
    std::lock_guard<spin_lock> guard{mutex_};
    entries_[i].state &= static_cast<std::uint8_t>(~waiting);
  }

  /// Instance `i` begins its start (its worker is being made): the time it waited for a thread
  /// before does not count against its ready timeout. The instance's thread.
  void begin_start(std::uint32_t i) noexcept {
    std::lock_guard<spin_lock> guard{mutex_};
    entries_[i].state |= began;
  }
  /// Whether instance `i` began its start since `reset_start(i)`. The loop.
  bool began_start(std::uint32_t i) noexcept {
    std::lock_guard<spin_lock> guard{mutex_};
    return (entries_[i].state & began) != 0;
  }
  /// A new incarnation of instance `i` is about to be spawned. The loop.
  void reset_start(std::uint32_t i) noexcept {
    std::lock_guard<spin_lock> guard{mutex_};
    entries_[i].state &= static_cast<std::uint8_t>(~began);
  }

  /// The loop takes back the oldest request nobody took, with its reference; null when empty.
  /// Withdrawn requests are released on the way, not returned.
  request_state* reclaim() noexcept {
    std::lock_guard<spin_lock> guard{mutex_};
    return pop_live_locked();
  }

  /// Requests waiting in the lane, withdrawn ones that no instance passed yet included. Any
  /// thread (a snapshot).
  std::size_t size() noexcept {
    std::lock_guard<spin_lock> guard{mutex_};
    return size_;
  }

private:
  /// The owner of a withdrawn request: generation 0, which no instance's token has.
  static constexpr std::uint32_t withdrawn = 1;
  static constexpr std::uint8_t waiting = 1; ///< idle: wants a wake-up when work arrives
  static constexpr std::uint8_t listed = 2;  ///< is in the idle stack (perhaps stale)
  static constexpr std::uint8_t began = 4;   ///< began its start (see `begin_start`)

  std::uint32_t pop_idle_locked() noexcept {
    std::uint32_t found = none;
    while (idle_ != none) {
      auto i = idle_;
      idle_ = entries_[i].next_idle;
      auto& s = entries_[i].state;
      s &= static_cast<std::uint8_t>(~listed);
      if (s & waiting) {
        s &= static_cast<std::uint8_t>(~waiting);
        found = i;
        break;
      }
    }
    return found;
  }

  /// Registers instance `i` as waiting for work (the next `push` wakes it).
  void list_idle_locked(std::uint32_t i) noexcept {
    auto& s = entries_[i].state;
    s |= waiting;
    if (!(s & listed)) {
      s |= listed;
      entries_[i].next_idle = idle_;
      idle_ = i;
    }
  }

  void append_locked(request_state* st) noexcept {
    st->inbox_next.store(nullptr, std::memory_order_relaxed);
    if (tail_)
      tail_->inbox_next.store(st, std::memory_order_relaxed);
    else
      head_ = st;
    tail_ = st;
    ++size_;
  }

  /// Pops the oldest request that was not withdrawn, releasing the withdrawn ones before it.
  request_state* pop_live_locked() noexcept {
    while (auto* st = pop_locked()) {
      if (st->owner() != withdrawn)
        return st;
      st->release(); // the lane's reference; the loop settled it already
    }
    return nullptr;
  }

  /// Whether a request that was not withdrawn waits (withdrawn ones at the head are dropped).
  bool has_live_locked() noexcept {
    while (head_ && head_->owner() == withdrawn) {
      pop_locked()->release();
    }
    return head_ != nullptr;
  }

  request_state* pop_locked() noexcept {
    auto* st = head_;
    if (!st)
      return nullptr;
    head_ = static_cast<request_state*>(st->inbox_next.load(std::memory_order_relaxed));
    if (!head_)
      tail_ = nullptr;
    --size_;
    return st;
  }

  spin_lock mutex_;
  caf::actor direct_; ///< open to submitters: its one instance; else null
  std::shared_ptr<thread_doorbell> direct_door_; ///< that instance's doorbell, if it has one
  request_state* head_ = nullptr;
  request_state* tail_ = nullptr;
  std::size_t size_ = 0;
  /// Per instance: `waiting`, `listed` and `began` bits, and the next instance in the idle
  /// stack. An instance is in the stack at most once.
  struct instance_entry {
    std::uint32_t next_idle = none;
    std::uint8_t state = 0;
  };
  instance_entry one_;                     ///< the entry of a one-instance actor: no allocation
  std::unique_ptr<instance_entry[]> many_; ///< the entries of a pool
  /// Chained lanes: each instance's doorbell; null otherwise.
  std::unique_ptr<std::shared_ptr<thread_doorbell>[]> doors_;
  instance_entry* entries_ = &one_;
  std::uint32_t idle_ = none; ///< instances registered idle, a stack: the most recent first
};

} // namespace loopbridge::detail
