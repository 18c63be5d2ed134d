#pragma once

// The thread that runs the event-loop actor, and the runtime's actors that are its guests.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <caf/execution_unit.hpp>
#include <caf/fwd.hpp>
#include <caf/resumable.hpp>

#include "loop/direct_notes.hpp"
#include "loop/request_inbox.hpp"
#include "scheduler/adaptive_spin.hpp"

namespace loopbridge::detail {

/// The thread that runs the event-loop actor, like the seed's EventThread runs asyncio: no
/// worker's handler ever runs here.
///
/// Host threads wake it directly (a futex, no scheduler in between): the event loop's
/// `enqueue` calls `notify` when a message arrives while the loop is idle. Actors the loop makes
/// runnable (a worker instance it handed requests) go to the runtime's scheduler, whose threads
/// run them in parallel. After a burst of work the thread spins briefly before it parks
/// (`adaptive_spin`), so request/response traffic rarely pays a wake-up.
///
/// A few of the runtime's own actors that talk mostly to the loop run here too, as its guests
/// (`host`): a node's gateway, which submits what it receives and answers what ends, and the
/// main runtime's stand-ins for actors on other nodes, which take what the loop hands them. A
/// hand-off between them and the loop is then a call on the same thread, not a wake-up of
/// another. Guests run runtime code only, never users' handlers, each for one message per turn,
/// before the loop's turn.
///
/// Contract for code running here: never block (as on asyncio's loop); the stall detector
/// reports anything that runs here longer than `runtime.slow_handler`. Threads: `notify` and
/// `host` from any thread; everything else on the loop thread only. Lifetime: `notify` may be
/// called (by CAF's clock thread, delivering a timer) until the actor system is destroyed, so
/// the object must outlive the actor system. Once the loop has ended, guests go to the
/// scheduler.
class stall_detector;

class loop_thread final : public caf::execution_unit {
public:
  loop_thread(caf::actor_system& sys, std::shared_ptr<stall_detector> stalls);
  ~loop_thread() override;

  /// Starts the thread; `loop` is the event-loop actor it hosts. Before it sleeps, the thread
  /// looks at `reports` (the loop's done reports) and `notes` (direct submissions): while
  /// quiet reports or notes wait, it sleeps at most `report_delay` and then calls `drain`
  /// (which sends the loop a drain message); otherwise it sleeps until woken, and any quiet
  /// report or note wakes it. Woken that way within `report_delay`, it takes traffic to be
  /// dense and sleeps timed from then on, until a timed sleep finds nothing at its end: a
  /// steady stream of quiet reports then costs one wake-up per `report_delay`, not one per
  /// report.
  void start(caf::resumable* loop, std::shared_ptr<request_inbox> reports,
             std::shared_ptr<direct_notes> notes, std::function<void()> drain);
  /// The event loop became runnable (the caller transferred one reference to this thread).
  /// Any thread; wakes the loop thread if it is parked.
  void notify() noexcept;
  /// Guest actor `guest` became runnable (the caller transferred one reference): it runs on
  /// this thread, or on the scheduler once the loop has ended. Any thread.
  void host(caf::resumable* guest);
  /// Waits for the thread to end (after the event loop terminated).
  void join();
  /// Lets the thread go on without this object's owner waiting for it: the runtime gave up on
  /// a loop that did not finish within the shutdown budget and leaves it behind (this object
  /// is then never destroyed, so the thread may keep using it). The stopping thread.
  void abandon() noexcept {
    if (thread_.joinable())
      thread_.detach();
  }
  /// True if the calling thread is this loop thread.
  bool on_this_thread() const noexcept { return std::this_thread::get_id() == thread_.get_id(); }

  /// An actor the loop made runnable: it goes to the scheduler.
  void exec_later(caf::resumable* job) override;

private:
  void run();
  /// Resumes the loop once; false once it terminated.
  bool resume();
  /// Resumes each guest runnable now once.
  void resume_guests();
  /// Hands the guests still runnable to the scheduler, and every later one (the loop ended).
  void close_guests();
  /// Something became runnable here: wakes the thread if it is parked.
  void signal() noexcept;
  void park() noexcept;

  caf::resumable* loop_ = nullptr;
  std::shared_ptr<request_inbox> reports_;
  std::shared_ptr<direct_notes> notes_;
  std::function<void()> drain_;
  std::shared_ptr<stall_detector> stalls_;
  std::atomic<std::uint32_t> ready_{0};    ///< 1 when the loop or a guest is runnable
  std::atomic<std::uint32_t> sleeping_{0}; ///< 1 while parked on `ready_`
  std::atomic<bool> loop_ready_{false};    ///< the loop actor is runnable
  std::atomic<bool> guests_ready_{false};  ///< `guests_` may hold some (no lock when not)
  std::mutex guests_mutex_;                ///< guards `guests_` and `closed_`
  std::vector<caf::resumable*> guests_;    ///< runnable guests, one reference each
  std::vector<caf::resumable*> running_;   ///< the guests of the current turn (loop thread)
  bool closed_ = false;                    ///< the loop ended: guests go to the scheduler
  adaptive_spin spin_;
  bool linger_ = false; ///< traffic is dense: sleep timed even with nothing quiet waiting
  std::thread thread_;
};

/// `caf::scheduled_actor::enqueue` for a guest of `thread`: puts `ptr` into `self`'s mailbox
/// and, when that made `self` runnable, hands it to `thread` (instead of the execution unit
/// of the sender or the scheduler). A request to an actor that terminated is answered with
/// its exit reason, as CAF does. For the `enqueue` override of a guest actor; any thread.
void enqueue_guest(caf::scheduled_actor& self, caf::mailbox_element_ptr ptr, loop_thread& thread);

} // namespace loopbridge::detail
