"""Recipe: bridge objects returned from Spark tasks (issue 16, part 2).

A benchmark-style program whose command and output the docs quote; not a CI
test. It writes a job directory J holding the bridge directory
``J/bridge-plugins/shapes.py`` and its archive ``J/bridge-plugins.zip``
(shapes.py at the top), mounts J/bridge-plugins as ``plugins`` in the driver,
starts a SparkSession and maps over an RDD with a function returning
``plugins.shapes.Square`` instances, collected on the driver. The recipe is
two settings:

  spark.archives                       J/bridge-plugins.zip#bridge-plugins   (--archives)
  spark.executorEnv.BRIDGEIMPORT_PATH  plugins=bridge-plugins   (bi.env("plugins", relative_to=J))

Spark unpacks the archive as ``bridge-plugins/`` in each executor's working
directory; executorEnv reaches the Python workers' environment (Spark forks
them from a pyspark.daemon it starts with that environment, at the first
Python task, after the archive is fetched); bridgeimport's start-up in the
daemon resolves the relative directory against the daemon's current
directory, the executor's working directory. The workers start from an
environment without the driver's BRIDGEIMPORT_* variables (removed from
os.environ before the JVM starts), so the mount comes from the recipe only.

Found by running it (Spark 4.3.0, Java 17):
* ``--master local[N]`` (the default here, local[2]): the executor is a
  thread pool in the driver's JVM and the Python workers run in the
  *driver's* current directory, while the archive is unpacked (at the first
  task) in a temporary ``userFiles-*`` directory (SparkFiles.getRootDirectory(),
  on the workers' sys.path) rather than there. So the program chdirs to J
  before the JVM starts; local workers then mount J/bridge-plugins, the
  original of the same files. Without the chdir (``--no-chdir``),
  bridgeimport warns on the worker's stderr that the directory does not
  exist and the tasks fail with ModuleNotFoundError.
* ``--master "local-cluster[2,1,1024]"`` (separate executor JVMs, run as the
  standalone cluster manager runs them): the executors' working directory is
  ``$SPARK_HOME/work/app-*/N`` (SPARK_HOME being the pyspark package here;
  the program removes its app directory afterwards) holding the unpacked
  ``bridge-plugins/``, and the workers mount that copy, as on YARN and
  Kubernetes, whose executors also run in the directory their archives are
  unpacked in.
* The shipped directory must not be named like the package: the workers'
  sys.path holds their current directory and the userFiles directory, so a
  directory ``plugins/`` there is a stock namespace package ``plugins``,
  which a mount never shadows; ``import plugins.shapes`` then succeeds from a
  second loader (CPython's), silently. ``bridge-plugins`` is no identifier,
  hence never a package. The check below (bridgeimport's loader on the
  worker) catches that case: ``--shipped plugins`` shows it.
* pyspark starts the workers with ``$PYSPARK_PYTHON`` (default ``python3`` on
  PATH, not the driver's interpreter): here it is set to sys.executable; on
  a cluster it must name an interpreter with bridgeimport installed.

The driver checks, for every record: ``type(result) is plugins.shapes.Square``
(the driver's one module object), the value, that the worker's pid is not
the driver's, that the worker saw BRIDGEIMPORT_PATH from executorEnv, and that
``plugins.shapes`` was loaded there by bridgeimport's loader from
``<worker cwd>/bridge-plugins``. It prints a short report and exits 1 if a
check fails.

    make recipes        # creates build/engines/venv (Java from Debian), runs this and recipe_ray.py
    build/engines/venv/bin/python benchmarks/recipe_spark.py [--tasks 200] [--master local[2]]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

# The default name of the shipped directory (the bridge directory, its archive
# and the archive's alias): not the package's name, and not an identifier.
SHIPPED = "bridge-plugins"

SHAPES = '''\
class Square:
    def __init__(self, side):
        self.side = side

    def area(self):
        return self.side * self.side
'''


def make_square(i: int):
    """The map function: a bridge object, plus what the worker saw."""
    import os

    import bridgeimport as bi
    import plugins.shapes

    facts = {
        "pid": os.getpid(),
        "cwd": os.path.realpath(os.getcwd()),
        "file": os.path.realpath(plugins.shapes.__file__),
        "bridge_loader": isinstance(plugins.shapes.__loader__, bi.Loader),
        "path_var": os.environ.get("BRIDGEIMPORT_PATH"),
    }
    return facts, plugins.shapes.Square(i)


def java_version() -> str:
    try:
        out = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
        return out.splitlines()[0]
    except (OSError, IndexError):
        return "java: not found"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200, help="records mapped (default 200)")
    parser.add_argument("--partitions", type=int, default=2, help="RDD partitions (default 2)")
    parser.add_argument("--master", default="local[2]",
                        help='local[2] (default) or e.g. "local-cluster[2,1,1024]"')
    parser.add_argument("--shipped", default=SHIPPED,
                        help=f"name of the shipped directory (default {SHIPPED}; "
                        "'plugins' shows the namespace-package trap)")
    parser.add_argument("--no-chdir", action="store_true",
                        help="do not chdir to J (shows the local[N] failure)")
    args = parser.parse_args()
    started = time.perf_counter()

    import bridgeimport as bi

    shipped = args.shipped
    job = Path(tempfile.mkdtemp(prefix="recipe-spark-")).resolve()
    bridge_dir = job / shipped
    bridge_dir.mkdir()
    (bridge_dir / "shapes.py").write_text(SHAPES)
    with zipfile.ZipFile(job / f"{shipped}.zip", "w") as archive:
        archive.write(bridge_dir / "shapes.py", "shapes.py")
    bi.mount("plugins", bridge_dir)
    env = bi.env("plugins", relative_to=job)

    # A clean start for the Python workers: they inherit the JVM's environment,
    # which inherits this process's, so drop this process's own export.
    for name in [n for n in os.environ if n.startswith("BRIDGEIMPORT_")]:
        del os.environ[name]
    os.environ["PYSPARK_PYTHON"] = sys.executable
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")      # this machine only
    if not args.no_chdir:
        os.chdir(job)  # local[N]: the Python workers' cwd is the driver's (see above)

    import pyspark
    from pyspark import SparkFiles
    from pyspark.sql import SparkSession

    print(f"recipe_spark: pyspark {pyspark.__version__}, Python {sys.version.split()[0]}, "
          f"{java_version()}, bridgeimport {getattr(bi, '__version__', '?')}")
    print(f"  J = {job}; bi.env('plugins', relative_to=J) = {env}")
    builder = (SparkSession.builder.master(args.master).appName("bridgeimport-recipe")
               .config("spark.archives", f"{job / shipped}.zip#{shipped}")
               .config("spark.pyspark.python", sys.executable)
               .config("spark.ui.enabled", "false")
               .config("spark.ui.showConsoleProgress", "false"))
    for name, value in env.items():
        builder = builder.config(f"spark.executorEnv.{name}", value)
    spark = builder.getOrCreate()
    try:
        spark.sparkContext.setLogLevel("ERROR")
        ready = time.perf_counter()
        try:
            results = (spark.sparkContext.parallelize(range(args.tasks), args.partitions)
                       .map(make_square).collect())
        except Exception as exc:  # the job failed: its Python error's last line
            lines = [x.strip() for x in str(exc).splitlines() if "Error" in x]
            job_error = f"{type(exc).__name__}: {lines[-1] if lines else str(exc)[:300]}"
            results = []
        else:
            job_error = None
        done = time.perf_counter()
        unpacked = Path(SparkFiles.getRootDirectory()) / shipped  # local[N]: unpacked lazily
        unpacked_exists = unpacked.is_dir()
        spark_version = spark.version
    finally:
        spark.stop()

    import plugins.shapes

    problems = []
    driver_pid = os.getpid()
    for i, (facts, square) in enumerate(results):
        why = []
        if type(square) is not plugins.shapes.Square:
            why.append(f"type {type(square)!r} from module "
                       f"{sys.modules.get(type(square).__module__)!r}")
        elif square.side != i or square.area() != i * i:
            why.append(f"value {square.side!r}")
        if facts["pid"] == driver_pid:
            why.append("ran in the driver")
        if facts["path_var"] != env.get("BRIDGEIMPORT_PATH"):
            why.append(f"worker BRIDGEIMPORT_PATH {facts['path_var']!r}")
        if not facts["bridge_loader"]:
            why.append(f"not loaded by bridgeimport on the worker ({facts['file']})")
        if facts["file"] != os.path.join(facts["cwd"], shipped, "shapes.py"):
            why.append(f"worker loaded {facts['file']} (cwd {facts['cwd']})")
        if why:
            problems.append(f"record {i}: " + "; ".join(why))
    if job_error:
        problems.append(f"the job failed: {job_error}")
    elif len(results) != args.tasks:
        problems.append(f"{len(results)} records collected, {args.tasks} expected")
    pids = sorted({f["pid"] for f, _ in results})
    first = results[0][0] if results else {}
    app_dir = Path(first.get("cwd", "/")).parent  # local-cluster: $SPARK_HOME/work/app-*
    if args.master.startswith("local-cluster") and app_dir.name.startswith("app-"):
        shutil.rmtree(app_dir, ignore_errors=True)
    print(f"  Spark {spark_version}, master {args.master}, "
          f"spark.archives=<J>/{shipped}.zip#{shipped}, executorEnv {env}")
    print(f"  driver's SparkFiles root: {unpacked.parent} (holds {shipped}/: {unpacked_exists})")
    print(f"  worker cwd:          {first.get('cwd')}")
    print(f"  worker module file:  {first.get('file')}")
    print(f"  worker BRIDGEIMPORT_PATH: {first.get('path_var')!r}")
    print(f"  records: {len(results)} in {args.partitions} partitions on {len(pids)} Python "
          f"worker process(es) {pids}, driver pid {driver_pid}")
    print("  identity (type(result) is plugins.shapes.Square, bridge loader on workers): "
          + ("ok" if not problems else f"FAILED ({len(problems)} problem(s))"))
    for line in problems[:5]:
        print(f"  FAIL {line}")
    print(f"  seconds: session start {ready - started:.2f}, map+collect {done - ready:.2f}")
    os.chdir(os.path.dirname(job))
    shutil.rmtree(job, ignore_errors=True)
    elapsed = time.perf_counter() - started
    print(f"recipe_spark: {'FAILED' if problems else 'ok'} in {elapsed:.1f} s")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
