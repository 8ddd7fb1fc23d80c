"""maild's layers depend one way (src/maild/meson.build draws the graph): each folder includes only
its own headers, the layers below it and base/ (log, descriptors); nothing in a layer includes the top
(main, options, server, demo). Fails naming every include that breaks the rule."""
import os
import re
import sys

MAY_USE = {
    "base": set(),
    "mail": set(),
    "storage": {"mail"},
    "net": set(),
    "auth": set(),
    "pop3": {"net", "auth", "storage", "mail"},
    "imap": {"net", "auth", "storage", "mail"},
}
SHARED = {"base"}  # every layer may use it

root = sys.argv[1]
wrong = []
for layer, below in MAY_USE.items():
    folder = os.path.join(root, layer)
    if not os.path.isdir(folder):
        wrong.append("%s/: missing" % layer)
        continue
    for name in sorted(os.listdir(folder)):
        if not name.endswith((".cpp", ".hpp")):
            continue
        with open(os.path.join(folder, name)) as f:
            for n, line in enumerate(f, 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if not m:
                    continue
                target = m.group(1)
                top = target.split("/", 1)[0] if "/" in target else None
                if top in SHARED or top == layer or top in below:
                    continue
                wrong.append("%s/%s:%d includes %s" % (layer, name, n, target))
for w in wrong:
    print("FAIL:", w)
if wrong:
    sys.exit(1)
print("ok: %d layers include only what they may" % len(MAY_USE))
