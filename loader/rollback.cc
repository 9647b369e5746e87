// rollback.cc: restoring sys.modules and namespaces after a failure (see the
// .h).
#include "loader/rollback.h"

#include <algorithm>
#include <cstring>

#include "finders/module_name.h"
#include "loader/execution_stats.h"
#include "loader/py_support.h"

namespace bridgeimport {
namespace {

// True if the str `key` starts with `prefix` and is longer. Reads the
// characters in place for the common compact-ASCII case: no allocation.
bool KeyBelow(PyObject* key, const std::string& prefix) {
  if (!PyUnicode_Check(key)) return false;
  Py_ssize_t size;
  const char* data;
  if (PyUnicode_IS_COMPACT_ASCII(key)) {
    size = PyUnicode_GET_LENGTH(key);
    data = static_cast<const char*>(PyUnicode_DATA(key));
  } else {
    data = PyUnicode_AsUTF8AndSize(key, &size);
    if (data == nullptr) {
      PyErr_Clear();
      return false;
    }
  }
  return static_cast<size_t>(size) > prefix.size() &&
         std::memcmp(data, prefix.data(), prefix.size()) == 0;
}

}  // namespace

void AttachReloadSnapshot(py::handle spec, py::handle target,
                          const std::string& name) {
  // Which executions of the module had begun (see TakeReloadSnapshot).
  int64_t epoch = ExecutionEpoch(name);
  py::object snapshot = py::reinterpret_steal<py::object>(
      PyDict_Copy(target.attr("__dict__").ptr()));
  if (!snapshot) throw py::error_already_set();
  spec.attr(kReloadSnapshotAttr) = py::make_tuple(target, snapshot, epoch);
}

// The snapshot the finder took when importlib.reload() asked for the spec,
// before reload() rewrote __spec__ and the other import attributes, if no
// other execution of the module began since or was running then. Two
// threads' reloads of one module can both pass importlib's _RELOADING check;
// they then take turns on the module lock, and a snapshot taken while the
// other one ran would bring back its half-made namespace. Else the namespace
// as it is now, under the module lock: nothing of another run is half done,
// and only the import attributes stay as this reload set them.
py::object TakeReloadSnapshot(py::handle module, const py::object& spec,
                              const py::dict& ns, int64_t epoch) {
  py::object pending = spec.is_none()
                           ? py::object(py::none())
                           : py::getattr(spec, kReloadSnapshotAttr, py::none());
  py::object snapshot;
  if (epoch >= 0 && py::isinstance<py::tuple>(pending) &&
      py::len(pending) == 3 && pending[py::int_(0)].ptr() == module.ptr() &&
      py::int_(pending[py::int_(2)]).cast<int64_t>() == epoch) {
    snapshot = pending[py::int_(1)];
  } else {
    snapshot = py::reinterpret_steal<py::object>(PyDict_Copy(ns.ptr()));
    if (!snapshot) throw py::error_already_set();
  }
  if (!pending.is_none() &&
      PyObject_DelAttrString(spec.ptr(), kReloadSnapshotAttr) != 0)
    PyErr_Clear();
  return snapshot;
}

// Snapshot values go back first, then the keys the failed run added are
// removed; the objects they held are released last, when the namespace is
// already whole.
void RestoreNamespace(const py::dict& ns, const py::object& snapshot) {
  if (PyDict_Update(ns.ptr(), snapshot.ptr()) != 0) PyErr_Clear();
  py::list released;
  py::list keys = py::reinterpret_steal<py::list>(PyDict_Keys(ns.ptr()));
  for (py::handle key : keys) {
    int in_snapshot = PyDict_Contains(snapshot.ptr(), key.ptr());
    if (in_snapshot != 0) {
      if (in_snapshot < 0) PyErr_Clear();
      continue;
    }
    py::object value =
        DictItem(ns, key);  // module code may run on other threads
    if (value) released.append(value);
    if (PyDict_DelItem(ns.ptr(), key.ptr()) != 0) PyErr_Clear();
  }
}  // `released` drops its references here

void ReattachLoadedChildren(const std::string& package, const py::dict& ns,
                            const std::vector<std::string>& loaded) {
  const std::string prefix = package + ".";
  py::dict modules = SysModules();
  for (const std::string& name : loaded) {
    if (name.compare(0, prefix.size(), prefix) != 0 ||
        name.find('.', prefix.size()) != std::string::npos)
      continue;  // not a direct submodule
    py::object module = DictItem(modules, name.c_str());
    if (!module) continue;
    py::str child(name.substr(prefix.size()));
    if (PyDict_Contains(ns.ptr(), child.ptr()) == 0 &&
        PyDict_SetItem(ns.ptr(), child.ptr(), module.ptr()) != 0)
      PyErr_Clear();
    if (PyErr_Occurred()) PyErr_Clear();
  }
}

// CPython inserted `name` right before executing it, and every module
// imported since was inserted (or, on success, moved) after it: dicts keep
// insertion order. So walking sys.modules backwards down to `name` finds
// exactly the additions, at no cost to successful loads. Entries that were
// there before the load sit before `name` and are left alone. If `name` is
// gone (the module removed itself), `loaded_here` stands in for the walk.
std::vector<std::string> RemoveAddedBelow(
    const std::string& name, const std::string& prefix,
    const std::vector<std::string>& loaded_here) {
  std::vector<std::string> added;
  py::dict modules = SysModules();
  bool reached_own = false;
  // The keys at one instant (PyDict_Keys copies them under the dict's lock):
  // other threads keep importing, and iterating the live dict would fail
  // with "dictionary changed size during iteration".
  py::list keys = py::reinterpret_steal<py::list>(PyDict_Keys(modules.ptr()));
  if (!keys) throw py::error_already_set();
  for (Py_ssize_t i = PyList_GET_SIZE(keys.ptr()) - 1; i >= 0; --i) {
    PyObject* key = PyList_GET_ITEM(keys.ptr(), i);  // the list holds it
    if (!PyUnicode_Check(key)) continue;
    std::string k = ToUtf8(key);
    if (k == name) {
      reached_own = true;
      break;
    }
    if (KeyBelow(key, prefix)) added.push_back(std::move(k));
  }
  if (!reached_own) {
    added.clear();
    for (const std::string& k : loaded_here)
      if (k.size() > prefix.size() && k.compare(0, prefix.size(), prefix) == 0)
        added.push_back(k);
  }
  // The failed module goes first: removing children may run __del__ and
  // switch threads, and while `name` is still there another thread's
  // `import name.x` would not wait on name's lock and could leave a fresh
  // orphan behind. Both callers (CPython's _load_unlocked and the native
  // path's LoadUnlocked) tolerate the entry being gone already.
  if (PyDict_DelItemString(modules.ptr(), name.c_str()) != 0) PyErr_Clear();
  for (const std::string& k : added)
    if (PyDict_DelItemString(modules.ptr(), k.c_str()) != 0) PyErr_Clear();
  std::sort(added.begin(), added.end());
  return added;
}

std::vector<std::string> RemoveLoadedModules(
    const std::vector<std::pair<std::string, py::object>>& loaded) {
  std::vector<std::string> removed;
  py::dict modules = SysModules();
  for (auto it = loaded.rbegin(); it != loaded.rend(); ++it) {
    const std::string& name = it->first;
    // Strong references: other threads may change sys.modules meanwhile.
    py::object current = DictItem(modules, name.c_str());
    if (current.ptr() != it->second.ptr())
      continue;  // replaced or gone: not ours
    if (PyDict_DelItemString(modules.ptr(), name.c_str()) != 0) PyErr_Clear();
    std::string parent(ParentName(name));
    py::object pkg =
        parent.empty() ? py::object() : DictItem(modules, parent.c_str());
    if (pkg) {
      std::string child(LastComponent(name));
      PyObject* attr = PyObject_GetAttrString(pkg.ptr(), child.c_str());
      if (attr == nullptr) PyErr_Clear();
      if (attr == it->second.ptr() &&
          PyObject_DelAttrString(pkg.ptr(), child.c_str()) != 0)
        PyErr_Clear();
      Py_XDECREF(attr);
    }
    removed.push_back(name);
  }
  std::sort(removed.begin(), removed.end());
  return removed;
}

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (!out.empty()) out += ", ";
    out += n;
  }
  return out;
}

}  // namespace bridgeimport
