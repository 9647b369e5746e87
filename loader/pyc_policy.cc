// pyc_policy.cc: trusting and writing bytecode cache files (see the .h).
#include "loader/pyc_policy.h"

#include <marshal.h>  // not part of Python.h

#include <algorithm>
#include <utility>

#include "absl/status/statusor.h"
#include "loader/cpython_private.h"
#include "loader/debug_log.h"
#include "loader/py_support.h"

namespace bridgeimport {
namespace {

bool DontWriteBytecode() {
  // An attribute of sys, not PySys_GetObject's borrowed reference: another
  // thread may assign sys.dont_write_bytecode meanwhile.
  py::object flag = py::getattr(Refs().sys, "dont_write_bytecode", py::none());
  int truth = PyObject_IsTrue(flag.ptr());
  if (truth < 0) PyErr_Clear();
  return truth == 1;
}

void LogRefused(const std::string& cache_path, const SourceFile& source,
                const PycCheck& check) {
  if (!DebugEnabled()) return;
  DebugLog("bytecode cache %s of %s not used (%s): %s",
           {py::str(cache_path), py::str(source.module),
            py::str(PycVerdictName(check.verdict)), py::str(check.reason)});
}

// As _validate_hash_pyc, with --check-hash-based-pycs: a checked pyc (or
// any, with "always") is compared with the source's hash, read into
// `found->source`; "never", or an unchecked pyc by default, is trusted by
// definition.
PycCheck ValidateHashPycForLoad(const PycHeader& header,
                                const SourceFile& source, CachedCode* found) {
  const std::string mode = CheckHashBasedPycs();
  if (mode == "never" || (!header.check_source() && mode != "always"))
    return {};
  found->source = ReadFileForModule(source.path, source.module,
                                    source.no_follow, source.roots);
  return ValidateHashPyc(header, std::string(SourceHash(found->source->data)));
}

}  // namespace

PycCheck UnmarshalCode(const std::string& pyc, const std::string& source_path,
                       py::object* code) {
  PyObject* obj = PyMarshal_ReadObjectFromString(
      pyc.data() + kPycHeaderSize,
      static_cast<Py_ssize_t>(pyc.size() - kPycHeaderSize));
  if (obj == nullptr) {
    py::error_already_set error;  // fetched: the reason, then forgotten
    return {PycVerdict::kCorrupt,
            "the bytecode does not unmarshal (" + ToUtf8(error.value()) + ")"};
  }
  py::object body = py::reinterpret_steal<py::object>(obj);
  if (!PyCode_Check(body.ptr()))
    return {PycVerdict::kCorrupt, std::string("the body is a ") +
                                      Py_TYPE(obj)->tp_name + ", not code"};
  if (!source_path.empty()) FixCodeFilename(body, source_path);
  *code = std::move(body);
  return {};
}

CachedCode ReadCachedCode(const std::string& cache_path,
                          const SourceFile& source) {
  CachedCode found;
  // Code from outside the mount must not run, by way of the pyc either. A
  // pyc in the source's own __pycache__ is checked as it is read (no extra
  // system call); under sys.pycache_prefix, the source is checked instead.
  const std::string& path = source.path;
  const size_t slash = path.rfind('/');
  const bool pyc_beside_source =
      slash != std::string::npos &&
      cache_path.compare(0, slash + 13,
                         path.substr(0, slash) + "/__pycache__/") == 0;
  absl::StatusOr<FileStat> source_stat = StatFile(
      path, source.no_follow, pyc_beside_source ? nullptr : source.roots);
  if (!source_stat.ok()) return found;  // reading the source reports it
  absl::StatusOr<FileContents> pyc = ReadWholeFile(
      cache_path, false, pyc_beside_source ? source.roots : nullptr);
  if (!pyc.ok()) {  // no cache yet is the common case, not worth a line
    if (!absl::IsNotFound(pyc.status()))
      LogRefused(cache_path, source,
                 {PycVerdict::kMissing, std::string(pyc.status().message())});
    return found;
  }
  PycHeader header;
  PycCheck check = ClassifyPyc(pyc->data, Refs().magic, &header);
  if (check.ok() && header.hash_based()) {
    found.hash_based = true;
    found.check_source = header.check_source();
    check = ValidateHashPycForLoad(header, source, &found);
  } else if (check.ok()) {
    check = ValidateTimestampPyc(header, source_stat->mtime_sec,
                                 source_stat->mtime_nsec, source_stat->size);
    if (check.ok())
      check = ValidatePycSettled(source_stat->mtime_ns, pyc->mtime_ns);
  }
  if (check.ok()) check = UnmarshalCode(pyc->data, path, &found.code);
  if (!check.ok()) {
    LogRefused(cache_path, source, check);
    found.code = py::object();
    return found;
  }
  found.source_stat = found.source.has_value()
                          ? static_cast<const FileStat&>(*found.source)
                          : *source_stat;
  return found;
}

bool WritePyc(const std::string& cache_path, const py::object& code,
              const FileContents& source, bool hash_based, bool check_source) {
  if (DontWriteBytecode()) return false;
  const PyRefs& refs = Refs();
  std::string header;
  if (hash_based) {
    py::bytes hash = SourceHash(source.data);
    header = MakeHashPycHeader(refs.magic, std::string(hash), check_source);
  } else {
    // A timestamp pyc written before the source's second is over could not be
    // told from a same-second rewrite later: do not write one (never stale).
    if (TimestampPycIsRacy(source.mtime_ns, WallClockNanos())) return false;
    header = MakeTimestampPycHeader(
        refs.magic, PycMtimeSeconds(source.mtime_sec, source.mtime_nsec),
        source.data.size());
  }
  PyObject* marshalled =
      PyMarshal_WriteObjectToString(code.ptr(), Py_MARSHAL_VERSION);
  if (marshalled == nullptr) {
    PyErr_Clear();  // an unmarshallable constant: just no cache
    return false;
  }
  py::bytes body = py::reinterpret_steal<py::bytes>(marshalled);
  header += std::string(body);
  mode_t mode = (source.mode | 0200) & 0666;  // as CPython's _calc_mode
  // Read-only trees, full disks, permissions: the cache is skipped, the
  // import goes on (CPython's set_data does the same).
  return WriteFileAtomic(cache_path, header, mode).ok();
}

namespace {

// _native.check_pyc: the loader's validators, applied as bridgeimport.doctor
// reports them. Differences from ReadCachedCode, on purpose: a hash-based
// pyc is always compared with its source (doctor reports an unchecked one
// that no longer matches, which Python runs anyway), and racy comes last, so
// that stale and corrupt keep their names.
// A path as the file system takes it: os.fsencode, so that names holding
// bytes that are not UTF-8 (surrogate escapes) reach the same file.
std::string FsEncoded(const py::str& path) {
  py::bytes encoded =
      py::reinterpret_steal<py::bytes>(PyUnicode_EncodeFSDefault(path.ptr()));
  if (!encoded) throw py::error_already_set();
  return std::string(encoded);
}

// The reverse, for text that may quote such a path (os.fsdecode).
py::str FsDecoded(const std::string& text) {
  PyObject* s = PyUnicode_DecodeFSDefaultAndSize(
      text.data(), static_cast<Py_ssize_t>(text.size()));
  if (s == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(s);
}

py::tuple CheckPyc(const py::str& source_file, const py::str& pyc_file) {
  std::string source_path = FsEncoded(source_file);
  std::string pyc_path = FsEncoded(pyc_file);
  PycHeader header;
  bool have_header = false;
  auto result = [&](const PycCheck& check) {
    py::object none = py::none();
    return py::make_tuple(
        PycVerdictName(check.verdict), FsDecoded(check.reason),
        have_header ? py::bool_(header.hash_based()) : none,
        have_header ? py::bool_(header.check_source()) : none);
  };
  absl::StatusOr<FileContents> pyc = ReadWholeFile(pyc_path, false);
  if (!pyc.ok())
    return result({PycVerdict::kMissing, std::string(pyc.status().message())});
  absl::StatusOr<FileContents> source = ReadWholeFile(source_path, false);
  if (!source.ok())
    return result(
        {PycVerdict::kNoSource, std::string(source.status().message())});
  PycCheck check = ClassifyPyc(pyc->data, Refs().magic, &header);
  have_header = check.ok();
  if (check.ok())
    check = header.hash_based()
                ? ValidateHashPyc(header, std::string(SourceHash(source->data)))
                : ValidateTimestampPyc(header, source->mtime_sec,
                                       source->mtime_nsec, source->size);
  py::object code;
  // "": the code is only looked at, not run: its co_filename stays as is.
  if (check.ok()) check = UnmarshalCode(pyc->data, "", &code);
  if (check.ok() && !header.hash_based())
    check = ValidatePycSettled(source->mtime_ns, pyc->mtime_ns);
  return result(check);
}

}  // namespace

void RegisterPycPolicy(py::module_& m) {
  m.def("check_pyc", &CheckPyc, py::arg("source_path"), py::arg("pyc_path"),
        "(verdict, reason, hash_based, check_source) for the bytecode cache "
        "file `pyc_path` of the source file `source_path`, judged by the "
        "loader's own validators; the last two are the header's PEP 552 flags "
        "(None without a valid header). verdict: "
        "'ok' (the loader would use it; reason ''), 'missing' (no readable "
        "pyc), 'no_source' (the source cannot be read), 'stale' (another "
        "interpreter's magic number, or the source's mtime, size or hash "
        "differ), 'corrupt' (truncated header, not a pyc, undefined flags, a "
        "body that is not code), 'racy' (valid for CPython, but written before "
        "the source's mtime second was over: bridgeimport recompiles it).");
  m.def(
      "settled_before",
      [](int64_t mtime_ns, int64_t ctime_ns, int64_t when_ns) {
        return SettledBefore(std::max(mtime_ns, ctime_ns), when_ns);
      },
      py::arg("mtime_ns"), py::arg("ctime_ns"), py::arg("when_ns"),
      "True if a file's last change, max(mtime_ns, ctime_ns), is provably "
      "before when_ns by file timestamps: when_ns >= (changed // 1s + 1) * 1s "
      "+ 100 ms (the rule that makes bridgeimport's pycs never stale).");
}

}  // namespace bridgeimport
