// The runtime's actor records: validating a spec, committing it under a name and an index,
// finding it by name, and retiring it once nothing can name it.
#include "runtime_core.hpp"

#include <algorithm>

#include "loopbridge/text.hpp"
#include "memory/object_pool.hpp"

namespace loopbridge::detail {

result<std::shared_ptr<actor_record>> runtime_core::validate(actor_spec spec) const {
  if (spec.name.empty())
    return error{errc::bad_request, "an actor needs a name"};
  auto* kind = kinds_.find(spec.kind);
  if (!kind) {
    std::string msg = "unknown kind " + quote(spec.kind);
    auto suggestion = did_you_mean(spec.kind, kinds_.names());
    if (!suggestion.empty())
      msg += " (" + suggestion + ")";
    return error{errc::not_found, msg};
  }
  if (auto why = placement_problem(spec, *kind); !why.empty())
    return error{errc::bad_request, why};
  if (spec.count == 0)
    spec.count = kind->default_count ? std::max<std::uint32_t>(1, kind->default_count()) : 1;
  if (spec.count > max_instances)
    return error{errc::bad_request, "actor " + quote(spec.name) + ": count " +
                                        std::to_string(spec.count) + " is over the limit of " +
                                        std::to_string(max_instances) + " instances per actor"};
  auto rec = make_pooled<actor_record>();
  std::vector<param_problem> problems;
  if (spec.params.is_null()) {
    std::lock_guard<std::mutex> guard{defaults_mutex_};
    auto it = default_params_.find(kind);
    if (it != default_params_.end())
      rec->params = it->second;
    else if (problems = resolve_params(kind->params, spec.params, rec->params); problems.empty())
      default_params_.emplace(kind, rec->params);
  } else {
    problems = resolve_params(kind->params, spec.params, rec->params);
  }
  if (problems.empty() && kind->validate)
    problems = kind->validate(rec->params);
  if (!problems.empty()) {
    std::string msg = "actor " + quote(spec.name) + ": ";
    for (std::size_t i = 0; i < problems.size(); ++i) {
      if (i > 0)
        msg += "; ";
      msg += "params." + problems[i].path + ": " + problems[i].message;
      if (!problems[i].hint.empty())
        msg += " (" + problems[i].hint + ")";
    }
    return error{errc::bad_request, msg};
  }
  try {
    rec->mode = kind->mode(rec->params);
  } catch (const std::exception& e) {
    return error{errc::bad_request, "actor " + quote(spec.name) + ": " + e.what()};
  }
  if (rec->mode != execution::scheduled && spec.node.empty()) {
    if (auto limit = instance_thread_limit(); spec.count > limit)
      return error{errc::bad_request,
                   "actor " + quote(spec.name) + ": count " + std::to_string(spec.count) +
                       " would need a thread per instance, over this machine's limit of " +
                       std::to_string(limit) +
                       " (half the threads the kernel allows this user); use a scheduled kind "
                       "for more instances"};
  }
  rec->kind = kind;
  rec->capacity = spec.mailbox.capacity > 0 ? spec.mailbox.capacity : options_.default_capacity;
  rec->spec = std::move(spec);
  rec->direct_capable = rec->spec.node.empty() && rec->spec.count == 1 &&
                        rec->spec.stop_after == 0 &&
                        rec->spec.mailbox.overflow == overflow_policy::block;
  return rec;
}

std::string runtime_core::name_in_use(const std::string& name) const {
  auto it = records_.find(name);
  return it == records_.end() ? std::string{} : name_held(*it->second, name);
}

std::string runtime_core::name_held(const actor_record& holder, const std::string& name) const {
  if (!holder.stopped.load(std::memory_order_acquire))
    return "an actor named " + quote(name) + " already exists";
  for (auto& [from, to] : routes_)
    if (from == name || to == name)
      return "the name " + quote(name) + " belongs to a stopped actor that a route names (" + from +
             " -> " + to + ")";
  return {};
}

result<void> runtime_core::commit(std::shared_ptr<actor_record> rec) {
  std::lock_guard<std::mutex> guard{records_mutex_};
  // One lookup in a table of perhaps a million names: the entry is made here, or found held
  // by an actor this one may replace.
  auto [it, fresh] = records_.try_emplace(rec->spec.name, rec);
  auto undo = [&, it = it, fresh = fresh] {
    if (fresh)
      records_.erase(it);
  };
  if (!fresh)
    if (auto why = name_held(*it->second, rec->spec.name); !why.empty())
      return error{errc::bad_request, why};
  if (!submit_gate_.is_open()) {
    undo();
    return error{errc::stopped, "the runtime is stopped"};
  }
  rec->sequence = next_sequence_++;
  if (!free_indices_.empty()) {
    rec->index = free_indices_.back();
    free_indices_.pop_back();
    by_index_[rec->index] = rec;
  } else {
    rec->index = static_cast<std::uint32_t>(by_index_.size());
    by_index_.push_back(rec);
  }
  // Queued under the lock, in commit order; the loop creates the actor on `spawn_atom` or
  // earlier, when a request or a stop for it arrives first.
  spawns_.push_back(rec);
  if (spawns_.size() == 1 && !send_to_loop(spawn_atom::value)) {
    spawns_.pop_back();
    undo();
    return error{errc::stopped, "the runtime is stopped"};
  }
  if (!fresh) { // replaces a stopped actor: the key views the name in the record it maps to
    auto entry = records_.extract(it);
    entry.key() = rec->spec.name;
    entry.mapped() = rec;
    records_.insert(std::move(entry));
  }
  return {};
}

void runtime_core::take_spawns(std::deque<record_ptr>& into) {
  std::lock_guard<std::mutex> guard{records_mutex_};
  for (auto& rec : spawns_)
    into.push_back(std::move(rec));
  spawns_.clear();
}

result<void> runtime_core::spawn(actor_spec spec) {
  if (!submit_gate_.is_open())
    return error{errc::stopped, "the runtime is stopped"};
  auto rec = validate(std::move(spec));
  if (!rec)
    return std::move(rec).error();
  return commit(std::move(*rec));
}

result<record_ptr> runtime_core::find(std::string_view name, const type_tag* kind,
                                      std::string_view kind_name) const {
  std::lock_guard<std::mutex> guard{records_mutex_};
  auto it = records_.find(name);
  if (it == records_.end()) {
    std::vector<std::string> names;
    for (auto& [n, _] : records_)
      names.emplace_back(n);
    std::string msg = "no actor named " + quote(name);
    auto suggestion = did_you_mean(name, names);
    if (!suggestion.empty())
      msg += " (" + suggestion + ")";
    return error{errc::not_found, msg};
  }
  if (kind && it->second->kind->tag != kind)
    return error{errc::wrong_kind, "actor " + quote(name) + " is of kind " +
                                       quote(it->second->kind->name) + ", not " + quote(kind_name)};
  return it->second;
}

void runtime_core::retire(const actor_record& rec) {
  {
    std::lock_guard<std::mutex> guard{records_mutex_};
    if (auto it = records_.find(rec.spec.name); it != records_.end() && it->second.get() == &rec)
      records_.erase(it);
    if (rec.index < by_index_.size() && by_index_[rec.index].get() == &rec) {
      by_index_[rec.index] = nullptr;
      free_indices_.push_back(rec.index);
    }
  }
  std::lock_guard<std::mutex> guard{report_mutex_};
  for (std::size_t i = report_owners_.size(); i-- > 0;)
    if (report_owners_[i] == &rec) {
      report_.actors.erase(report_.actors.begin() + static_cast<std::ptrdiff_t>(i));
      report_owners_.erase(report_owners_.begin() + static_cast<std::ptrdiff_t>(i));
      ++report_.retired;
      break;
    }
}

result<value> runtime_core::ready_info(std::string_view name) const {
  auto rec = find(name, nullptr, {});
  if (!rec)
    return std::move(rec).error();
  auto info = std::atomic_load(&(*rec)->ready_info);
  return info ? *info : value{value::map{}};
}

} // namespace loopbridge::detail
