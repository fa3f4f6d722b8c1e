"""
check_call_cycles.py - no two source files of a folder call into each other in a
circle (issue 16): builds the file-level call graph of the given object files from
their symbols (nm: defined T/D/B/R, undefined U) and fails on any cycle among the
objects whose path contains /src/<folder>/.

    python3 check_call_cycles.py <folder> <object files, or one ;-separated list>
"""
import subprocess
import sys


def symbols(obj):
    defined, undefined = set(), set()
    for line in subprocess.run(["nm", obj], capture_output=True, text=True, check=True).stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in "TDBR":
            defined.add(parts[2])
        elif len(parts) == 2 and parts[0] == "U":
            undefined.add(parts[1])
    return defined, undefined


def main():
    args = [o for a in sys.argv[2:] for o in a.split(";")]  # CMake passes $<TARGET_OBJECTS> as one list
    folder, objs = sys.argv[1], [o for o in args if "/src/%s/" % sys.argv[1] in o]
    if not objs:
        print("no objects of src/%s given" % folder)
        return 1
    syms = {o: symbols(o) for o in objs}
    name = {o: o.split("/src/")[-1].replace(".o", "") for o in objs}
    edges = {a: {b for b in objs if b != a and syms[a][1] & syms[b][0]} for a in objs}
    for a in sorted(objs, key=name.get):
        print("%s -> %s" % (name[a], ", ".join(sorted(name[b] for b in edges[a])) or "-"))
    # a cycle exists iff some file reaches itself
    cycles = []
    for a in objs:
        seen, todo = set(), list(edges[a])
        while todo:
            b = todo.pop()
            if b not in seen:
                seen.add(b)
                todo.extend(edges[b])
        if a in seen:
            cycles.append(name[a])
    if cycles:
        print("FAIL: files of src/%s in call cycles: %s" % (folder, ", ".join(sorted(cycles))))
        return 1
    print("PASS: no call cycle among the %d files of src/%s" % (len(objs), folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
