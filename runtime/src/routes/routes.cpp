// Routes between actors: checking that a route can carry replies and closes no cycle, and
// adding it.
#include "runtime_core.hpp"

#include "loopbridge/text.hpp"

namespace loopbridge::detail {

result<void> runtime_core::check_route(const std::string& from, const std::string& to,
                                       const std::map<std::string, const kind_descriptor*>& kinds,
                                       const std::map<std::string, std::string>& routes) const {
  auto fk = kinds.find(from);
  auto tk = kinds.find(to);
  if (fk == kinds.end() || tk == kinds.end())
    return error{errc::not_found, "route " + quote(from) + " -> " + quote(to) + ": unknown actor " +
                                      quote(fk == kinds.end() ? from : to)};
  if (from == to)
    return error{errc::bad_request, "route " + from + " -> " + to + ": a route to itself"};
  if (routes.count(from))
    return error{errc::bad_request, "route " + from + " -> " + to + ": " + from +
                                        " already routes to " + routes.at(from)};
  for (auto at = to;;) { // would this route close a cycle?
    auto next = routes.find(at);
    if (next == routes.end())
      break;
    if (next->second == from)
      return error{errc::bad_request, "route " + from + " -> " + to + " would form a cycle"};
    at = next->second;
  }
  for (auto& r : fk->second->requests)
    if (kinds_.find_adapter(r.reply_tag, *tk->second))
      return {};
  return error{errc::bad_request, "route " + from + " -> " + to + ": no adapter from a reply of " +
                                      fk->second->name + " to a request of " + tk->second->name +
                                      " (register one with kind_registry::adapt)"};
}

result<void> runtime_core::add_route(std::string_view from, std::string_view to) {
  std::lock_guard<std::mutex> guard{records_mutex_};
  std::map<std::string, const kind_descriptor*> kinds;
  for (auto& [name, rec] : records_)
    kinds.emplace(std::string{name}, rec->kind);
  if (auto ok = check_route(std::string{from}, std::string{to}, kinds, routes_); !ok)
    return ok;
  auto f = records_.find(from)->second;
  auto t = records_.find(to)->second;
  for (auto* one_shot : {f.get(), t.get()})
    if (one_shot->spec.stop_after > 0)
      return error{errc::bad_request, "route " + std::string{from} + " -> " + std::string{to} +
                                          ": " + one_shot->spec.name +
                                          " is a one-shot actor and takes no routes"};
  routes_.emplace(std::string{from}, std::string{to});
  if (!send_to_loop(route_atom::value, record_ptr{f}, record_ptr{t}))
    return error{errc::stopped, "the runtime is stopped"};
  return {};
}

} // namespace loopbridge::detail
