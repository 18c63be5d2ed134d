#include "loopbridge/actors/http_origin.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <fnmatch.h>
#include <fstream>
#include <map>
#include <memory>
#include <microhttpd.h>
#include <optional>
#include <poll.h>
#include <pthread.h>
#include <random>
#include <sstream>
#include <stdexcept>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "loopbridge/convert.hpp"
#include "open_file_limit.hpp"

namespace loopbridge::actors {

/// Everything the server's threads touch. Shared so a connection finishing late never touches a
/// destroyed worker.
///
/// The server runs on one thread (`run_loop`, driving libmicrohttpd's epoll mode), so no fault
/// may block it: a delayed answer and each pause of a trickled body suspend their connection
/// (`suspend_until`), and the timer thread resumes it when its time comes (and wakes the loop).
/// libmicrohttpd may not stop while a connection is suspended: `stop_timer` resumes them all
/// first.
///
/// The loop is ours, not libmicrohttpd's internal thread (0.9.75, unchanged up to 1.0.1): that
/// thread reads ready events 128 at a time and, after a full batch, waits for more with its idle
/// timeout. When the ready events come to exactly 128 (256, ...), it sleeps on requests already
/// received until the oldest connection's 60 s timeout, then closes the connections that timed
/// out before reading what they sent. Here libmicrohttpd only processes what is ready
/// (`MHD_run` never waits) and the loop does the waiting, on libmicrohttpd's epoll descriptor.
struct http_origin_worker::state {
  using clock = std::chrono::steady_clock;

  std::string root;
  std::string scheme = "http";
  std::int64_t port = 0;
  MHD_Daemon* daemon = nullptr;
  std::mutex mutex; ///< guards what follows, up to `requests`
  std::condition_variable timer_cv;
  bool stopping = false;
  std::vector<origin_fault> faults;
  /// Suspended connections by the time to resume them.
  std::multimap<clock::time_point, MHD_Connection*> sleeping;
  std::thread timer;
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> connections{0};
  std::thread loop;
  int wake_fd = -1; ///< an eventfd: wakes `run_loop` (a resume, or its stop)
  std::atomic<bool> loop_stopping{false};

  /// The first fault matching `path`, if any (copied: faults may change meanwhile).
  std::optional<origin_fault> fault_for(const std::string& path) {
    std::lock_guard<std::mutex> guard{mutex};
    for (auto& f : faults)
      if (fnmatch(f.path.c_str(), path.c_str(), 0) == 0)
        return f;
    return std::nullopt;
  }

  /// Suspends `c` until `when` (from one of its callbacks, on the server's thread); false,
  /// leaving it as it is, if the server is stopping.
  bool suspend_until(MHD_Connection* c, clock::time_point when) {
    std::lock_guard<std::mutex> guard{mutex};
    if (stopping)
      return false;
    MHD_suspend_connection(c);
    bool earliest = sleeping.empty() || when < sleeping.begin()->first;
    sleeping.emplace(when, c);
    if (earliest)
      timer_cv.notify_one();
    return true;
  }

  /// The timer thread: resumes each suspended connection at its time, until `stop_timer`.
  void run_timer() {
    std::vector<MHD_Connection*> due;
    std::unique_lock<std::mutex> lock{mutex};
    while (!stopping) {
      if (sleeping.empty()) {
        timer_cv.wait(lock);
        continue;
      }
      auto now = clock::now();
      if (now < sleeping.begin()->first) {
        timer_cv.wait_until(lock, sleeping.begin()->first);
        continue;
      }
      while (!sleeping.empty() && sleeping.begin()->first <= now) {
        due.push_back(sleeping.begin()->second);
        sleeping.erase(sleeping.begin());
      }
      lock.unlock();
      for (auto* c : due)
        MHD_resume_connection(c);
      due.clear();
      wake_loop(); // libmicrohttpd sees a resume only when it runs next
      lock.lock();
    }
  }

  void wake_loop() {
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one); // full counter: awake already
  }

  /// The server's thread, until `stop_loop`: waits until libmicrohttpd has something to do (its
  /// epoll descriptor is readable, its next timeout is due, or `wake_fd` is signalled), then
  /// lets it do it without waiting (`MHD_run`), as libmicrohttpd's external epoll mode asks.
  void run_loop() {
    int epoll_fd = MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_EPOLL_FD)->epoll_fd;
    while (!loop_stopping.load()) {
      MHD_UNSIGNED_LONG_LONG ms = 0;
      int timeout = -1; // no connection with a timeout: only an event ends the wait
      if (MHD_get_timeout(daemon, &ms) == MHD_YES)
        timeout = static_cast<int>(std::min<MHD_UNSIGNED_LONG_LONG>(ms, INT_MAX));
      pollfd fds[2] = {{epoll_fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
      ::poll(fds, 2, timeout); // failing (EINTR), it wakes early: libmicrohttpd runs for nothing
      if (fds[1].revents & POLLIN) {
        std::uint64_t count;
        [[maybe_unused]] auto n = ::read(wake_fd, &count, sizeof count);
      }
      // After every wait, as the timeout asks, whatever ended it. libmicrohttpd takes its
      // listening socket out of its epoll set at the connection limit and puts it back only
      // when it next runs: after a run that closed connections, it runs again, or a client
      // waiting to be accepted would wait for some other event (up to a connection timeout).
      auto before = open_connections();
      for (;;) {
        MHD_run(daemon);
        auto after = open_connections();
        if (after >= before)
          break;
        before = after;
      }
    }
  }

  unsigned open_connections() {
    return MHD_get_daemon_info(daemon, MHD_DAEMON_INFO_CURRENT_CONNECTIONS)->num_connections;
  }

  void stop_loop() {
    loop_stopping = true;
    wake_loop();
    if (loop.joinable())
      loop.join();
  }

  /// Stops the timer thread and resumes every connection still suspended; after it, no
  /// connection is suspended again (their callbacks close them instead).
  void stop_timer() {
    {
      std::lock_guard<std::mutex> guard{mutex};
      stopping = true;
    }
    timer_cv.notify_all();
    if (timer.joinable())
      timer.join();
    for (auto& entry : sleeping)
      MHD_resume_connection(entry.second);
    sleeping.clear();
    wake_loop();
  }

  ~state() {
    if (wake_fd >= 0)
      ::close(wake_fd);
  }
};

namespace {

std::vector<origin_fault> faults_from(const value& v, std::vector<field_problem>& problems) {
  std::vector<origin_fault> out;
  if (v.is_null())
    return out;
  from_value(v, out, "faults", problems);
  return out;
}

const char* content_type(const std::string& path) {
  auto ends = [&](const char* ext) {
    auto n = std::strlen(ext);
    return path.size() >= n && path.compare(path.size() - n, n, ext) == 0;
  };
  if (ends(".jpg") || ends(".jpeg"))
    return "image/jpeg";
  if (ends(".png"))
    return "image/png";
  if (ends(".webp"))
    return "image/webp";
  if (ends(".html"))
    return "text/html";
  if (ends(".json"))
    return "application/json";
  return "application/octet-stream";
}

MHD_Result respond_text(MHD_Connection* c, unsigned status, const std::string& text,
                        const std::string& location = {}) {
  auto* r = MHD_create_response_from_buffer(text.size(), const_cast<char*>(text.data()),
                                            MHD_RESPMEM_MUST_COPY);
  MHD_add_response_header(r, "Content-Type", "text/plain");
  if (!location.empty())
    MHD_add_response_header(r, "Location", location.c_str());
  auto ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

/// Streams a file with a fault applied (truncate, drop, trickle).
struct faulty_body {
  using clock = http_origin_worker::state::clock;
  http_origin_worker::state* st = nullptr; ///< outlives the response: the daemon stops first
  MHD_Connection* connection = nullptr;    ///< the one connection it is sent on
  int fd = -1;
  std::uint64_t size = 0;
  std::uint64_t limit = 0; ///< bytes sent before closing the connection (size: no cut)
  std::int64_t trickle = 0;
  clock::time_point next_piece{}; ///< with `trickle`: when the next piece may go
  ~faulty_body() {
    if (fd >= 0)
      ::close(fd);
  }
};

ssize_t read_faulty(void* cls, std::uint64_t pos, char* buf, std::size_t max) {
  auto* b = static_cast<faulty_body*>(cls);
  if (pos >= b->limit)
    return MHD_CONTENT_READER_END_WITH_ERROR; // close mid-body
  auto want = std::min<std::uint64_t>(max, b->limit - pos);
  if (b->trickle > 0) { // pieces of 1/20 s, each after the time the one before took
    auto now = faulty_body::clock::now();
    if (now < b->next_piece) // nothing yet: called again once resumed
      return b->st->suspend_until(b->connection, b->next_piece) ? 0
                                                                : MHD_CONTENT_READER_END_WITH_ERROR;
    want = std::min<std::uint64_t>(want, std::max<std::int64_t>(1, b->trickle / 20));
    b->next_piece = now + std::chrono::nanoseconds(static_cast<std::int64_t>(
                              1e9 * static_cast<double>(want) / static_cast<double>(b->trickle)));
  }
  auto n = ::pread(b->fd, buf, want, static_cast<off_t>(pos));
  if (n <= 0)
    return MHD_CONTENT_READER_END_WITH_ERROR;
  return n;
}

void free_faulty(void* cls) {
  std::unique_ptr<faulty_body> owned{static_cast<faulty_body*>(cls)}; // taken back, freed
}

void on_connection(void* cls, MHD_Connection*, void**, MHD_ConnectionNotificationCode code) {
  if (code == MHD_CONNECTION_NOTIFY_STARTED)
    static_cast<http_origin_worker::state*>(cls)->connections.fetch_add(1);
}

/// Opens the file at `path` (absolute within the served directory, without "..") below `root`
/// for reading, following no symbolic link below `root` (the writer's rule): a link anywhere
/// on the way, like a missing file, gives -1. `root` itself may be a link. Never blocks on a
/// special file (a FIFO): the caller serves regular files only.
int open_below(const std::string& root, const std::string& path) {
  std::vector<std::string> names; // the path's components ("//a///b" is a, b)
  for (std::size_t begin = 0; begin < path.size();) {
    auto end = std::min(path.find('/', begin), path.size());
    if (end > begin)
      names.push_back(path.substr(begin, end - begin));
    begin = end + 1;
  }
  if (names.empty()) // the root itself: a directory
    return -1;
  int dir = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  for (std::size_t i = 0; dir >= 0 && i + 1 < names.size(); ++i) {
    int next = ::openat(dir, names[i].c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    ::close(dir);
    dir = next;
  }
  if (dir < 0)
    return -1;
  int fd = ::openat(dir, names.back().c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  ::close(dir);
  return fd;
}

MHD_Result on_request(void* cls, MHD_Connection* c, const char* url, const char* method,
                      const char*, const char*, std::size_t* upload_size, void** con_cls) {
  auto* st = static_cast<http_origin_worker::state*>(cls);
  // Where a request is (its *con_cls): headers read, or delayed (suspended, then called again).
  static int headers_read, delayed;
  if (*con_cls == nullptr) { // first call for this request: headers only
    *con_cls = &headers_read;
    return MHD_YES;
  }
  if (*upload_size > 0) { // ignore request bodies
    *upload_size = 0;
    return MHD_YES;
  }
  bool resumed = *con_cls == &delayed;
  if (!resumed)
    st->requests.fetch_add(1);
  std::string m = method, path = url;
  if (m != "GET" && m != "HEAD")
    return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
  if (path.empty() || path[0] != '/' || path.find("..") != std::string::npos ||
      path.find('\0') != std::string::npos)
    return respond_text(c, MHD_HTTP_FORBIDDEN, "refused: path outside the served directory\n");
  auto fault = st->fault_for(path);
  if (fault && !resumed) {
    auto wait = fault->delay;
    if (fault->jitter.count() > 0) {
      thread_local std::mt19937_64 rng{std::random_device{}()};
      wait += std::chrono::nanoseconds(rng() % static_cast<std::uint64_t>(fault->jitter.count()));
    }
    if (wait.count() > 0) { // answered when the connection is resumed (called again)
      *con_cls = &delayed;
      return st->suspend_until(c, http_origin_worker::state::clock::now() + wait) ? MHD_YES
                                                                                  : MHD_NO;
    }
  }
  if (fault) {
    if (fault->status > 0)
      return respond_text(c, static_cast<unsigned>(fault->status),
                          "fault: status " + std::to_string(fault->status) + "\n", fault->location);
  }
  int fd = open_below(st->root, path);
  struct stat sb {};
  if (fd < 0 || ::fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
    if (fd >= 0)
      ::close(fd);
    return respond_text(c, MHD_HTTP_NOT_FOUND, "not found\n");
  }
  auto size = static_cast<std::uint64_t>(sb.st_size);
  MHD_Response* r;
  if (fault && (fault->truncate >= 0 || fault->drop || fault->trickle > 0)) {
    auto body = std::make_unique<faulty_body>();
    body->connection = c;
    body->fd = fd;
    body->size = size;
    body->st = st;
    body->limit = fault->truncate >= 0 ? std::min<std::uint64_t>(size, fault->truncate)
                  : fault->drop        ? size / 2
                                       : size;
    body->trickle = fault->trickle;
    r = MHD_create_response_from_callback(size, 32 * 1024, &read_faulty, body.get(), &free_faulty);
    if (r)
      body.release(); // libmicrohttpd frees it (free_faulty)
  } else {
    r = MHD_create_response_from_fd(size, fd);
    if (!r)
      ::close(fd);
  }
  if (!r)
    return MHD_NO;
  MHD_add_response_header(r, "Content-Type", content_type(path));
  auto ret = MHD_queue_response(c, MHD_HTTP_OK, r);
  MHD_destroy_response(r);
  return ret;
}

std::string slurp(const std::string& path) {
  std::ifstream in{path, std::ios::binary};
  if (!in)
    throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

} // namespace

std::vector<param_decl> http_origin::params() {
  using d = param_decl;
  return {
      d::string("root", "", "the directory to serve").mandatory(),
      d::integer("port", 0, "the port to listen on; 0 picks a free one").range(0, 65535),
      d::string("address", "127.0.0.1", "the address to listen on"),
      d::any("faults", "faults to inject: a list of {path, delay, jitter, status, truncate, "
                       "drop, trickle}"),
      d::integer("max_connections", 256,
                 "connections served at once; more wait to be accepted until one closes")
          .range(1, 10000),
      d::string("tls_cert", "", "PEM certificate: serve https (with tls_key)"),
      d::string("tls_key", "", "PEM private key for tls_cert"),
  };
}

std::vector<param_problem> http_origin::validate(const loopbridge::params& p) {
  std::vector<param_problem> problems;
  if (auto* f = p.find("faults"))
    faults_from(*f, problems);
  if (p.string("tls_cert").empty() != p.string("tls_key").empty())
    problems.push_back({"tls_key", "tls_cert and tls_key go together", "give both or neither"});
  return problems;
}

http_origin_worker::http_origin_worker(worker_context& ctx) : state_(std::make_shared<state>()) {
  auto& p = ctx.params();
  state_->root = p.string("root");
  while (state_->root.size() > 1 && state_->root.back() == '/')
    state_->root.pop_back();
  std::vector<field_problem> problems;
  if (auto* f = p.find("faults"))
    state_->faults = faults_from(*f, problems);
  std::string cert, key;
  // One epoll loop for every connection: no limit on descriptor numbers (select() failed above
  // 1024), no thread per connection. At `max_connections` it stops accepting, so a client
  // beyond the limit waits in the listen backlog until a connection closes; none is reset.
  // Epoll without libmicrohttpd's internal thread: `run_loop` drives it (see `state`).
  unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME;
  auto max_connections = static_cast<unsigned>(p.integer("max_connections"));
  ensure_open_file_limit(max_connections + 64); // its own listening socket, files it serves
  if (!p.string("tls_cert").empty()) {
    cert = slurp(p.string("tls_cert"));
    key = slurp(p.string("tls_key"));
    flags |= MHD_USE_TLS;
    state_->scheme = "https";
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(p.integer("port")));
  if (inet_pton(AF_INET, p.string("address").c_str(), &addr.sin_addr) != 1)
    throw std::runtime_error("invalid address " + p.string("address"));
  state_->wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (state_->wake_fd < 0)
    throw std::runtime_error(std::string{"http_origin: eventfd failed: "} + std::strerror(errno));
  state_->timer = std::thread{[st = state_.get()] {
    ::pthread_setname_np(::pthread_self(), "lb.origin.timer");
    st->run_timer();
  }};
  state_->daemon = MHD_start_daemon(
      flags, 0, nullptr, nullptr, &on_request, state_.get(), MHD_OPTION_SOCK_ADDR, &addr,
      MHD_OPTION_CONNECTION_LIMIT, max_connections, MHD_OPTION_NOTIFY_CONNECTION, &on_connection,
      state_.get(), MHD_OPTION_CONNECTION_TIMEOUT, 60u,
      cert.empty() ? MHD_OPTION_END : MHD_OPTION_HTTPS_MEM_CERT, cert.c_str(),
      MHD_OPTION_HTTPS_MEM_KEY, key.c_str(), MHD_OPTION_END);
  if (!state_->daemon) {
    state_->stop_timer();
    throw std::runtime_error("cannot listen on " + p.string("address") + ":" +
                             std::to_string(p.integer("port")) + " (in use, or not allowed)");
  }
  state_->port = MHD_get_daemon_info(state_->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
  state_->loop = std::thread{[st = state_.get()] {
    ::pthread_setname_np(::pthread_self(), "lb.origin.loop");
    st->run_loop();
  }};
  ctx.defer_ready();
  auto i = info();
  ctx.ready(value{{"port", i.port}, {"url", i.url}});
}

http_origin_worker::~http_origin_worker() {
  state_->stop_timer(); // no connection may be suspended when the daemon stops
  state_->stop_loop();  // MHD_stop_daemon runs the resumes still pending, then closes all
  if (state_->daemon)
    MHD_stop_daemon(state_->daemon);
}

origin_info http_origin_worker::info() const {
  origin_info i;
  i.port = state_->port;
  i.url = state_->scheme + "://127.0.0.1:" + std::to_string(state_->port);
  i.requests = state_->requests.load();
  i.connections = state_->connections.load();
  return i;
}

void http_origin_worker::handle(origin_info_request&, responder<origin_info>& r) {
  r.reply(info());
}

void http_origin_worker::handle(set_faults_request& req, responder<origin_info>& r) {
  {
    std::lock_guard<std::mutex> guard{state_->mutex};
    if (req.replace)
      state_->faults = std::move(req.faults);
    else
      state_->faults.insert(state_->faults.end(), req.faults.begin(), req.faults.end());
  }
  r.reply(info());
}

} // namespace loopbridge::actors
