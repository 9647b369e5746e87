// pyc_policy.h: when the source loader trusts, and when it writes, a
// bytecode cache file (pyc).
//
// importlib's SourceLoader.get_code, natively: the header is classified and
// validated against the source by the small validators of
// finders/pyc_header.h (the counterparts of _classify_pyc,
// _validate_timestamp_pyc and _validate_hash_pyc), then the body is
// unmarshalled. A pyc refused at any step is ignored and rewritten after
// compiling, never trusted, and the debug log ("bridgeimport" logger at
// DEBUG) says why. bridgeimport's own rule on top of CPython's: a timestamp
// pyc written before its source's mtime second was over is not trusted, and
// not written (finders/pyc_header.h, "never stale").
//
// The same validators answer _native.check_pyc(source_path, pyc_path) for
// bridgeimport.doctor.
//
// Example:
//
//   CachedCode cached = ReadCachedCode(cache_path, file);
//   if (cached.code) return cached.code;           // from the pyc
//   ... compile the source ...
//   WritePyc(cache_path, code, source, cached.hash_based, cached.check_source);
#ifndef BRIDGEIMPORT_LOADER_PYC_POLICY_H_
#define BRIDGEIMPORT_LOADER_PYC_POLICY_H_

#include <pybind11/pybind11.h>

#include <optional>
#include <string>
#include <vector>

#include "finders/file_io.h"
#include "finders/pyc_header.h"

namespace bridgeimport {

namespace py = pybind11;

// The source file a pyc is judged for, and how it may be read (a view of
// the loader's own fields, for the duration of one call).
struct SourceFile {
  const std::string& path;
  const std::string& module;  // for error messages
  bool no_follow;             // refuse a final symlink (see ReadFileForModule)
  const std::vector<std::string>* roots;  // see ReadFileForModule
};

// What ReadCachedCode found.
struct CachedCode {
  py::object code;  // the pyc's code object, or null if it was not used
  // The source's bytes, if reading them was part of the check (a checked
  // hash-based pyc): compiling then needs no second read.
  std::optional<FileContents> source;
  FileStat source_stat;  // what the source was when `code` was judged valid
  // The kind of header found, so that a rewrite keeps it (a hash-based pyc
  // stays hash-based, with its check_source flag).
  bool hash_based = false;
  bool check_source = true;
};

// The code of `cache_path` if it is a valid pyc for `source`, else a null
// `code` (logging why, at DEBUG). Throws only what reading the source for a
// hash check throws (BridgeImportError).
CachedCode ReadCachedCode(const std::string& cache_path,
                          const SourceFile& source);

// The code object in a pyc's body (after the header), its co_filename
// pointed at `source_path` (left as is for ""); else kCorrupt with the
// reason in the result.
PycCheck UnmarshalCode(const std::string& pyc, const std::string& source_path,
                       py::object* code);

// Writes the pyc for `code`, compiled from `source`, unless
// sys.dont_write_bytecode is set or a timestamp pyc would be racy; true if a
// cache file was written. Never raises: a read-only tree or a full disk
// just leaves no cache, as CPython's set_data.
bool WritePyc(const std::string& cache_path, const py::object& code,
              const FileContents& source, bool hash_based, bool check_source);

// _native.check_pyc and _native.settled_before.
void RegisterPycPolicy(py::module_& m);

}  // namespace bridgeimport

#endif  // BRIDGEIMPORT_LOADER_PYC_POLICY_H_
