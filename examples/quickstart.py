"""Publish a small model to a local repository and load it back.

Everything is kept below ./quickstart: the repository, the model folder
and the cache. Running the script again loads the model published before.
"""

import os
import pprint

import audmodel


workspace = os.path.abspath("quickstart")
host = os.path.join(workspace, "repositories")
os.makedirs(os.path.join(host, "models"), exist_ok=True)
repository = audmodel.Repository("models", host, "file-system")
audmodel.config.REPOSITORIES = [repository]
audmodel.config.CACHE_ROOT = os.path.join(workspace, "cache")

model_root = os.path.join(workspace, "model")
os.makedirs(os.path.join(model_root, "log"), exist_ok=True)
with open(os.path.join(model_root, "model.yaml"), "w") as fp:
    fp.write("layers: 10\nactivation: relu\n")
with open(os.path.join(model_root, "log", "eval.yaml"), "w") as fp:
    fp.write("uar: 0.62\n")

name = "onnx"
params = {"model": "cnn10", "data": ["emodb"], "sampling_rate": 16000}
uid = audmodel.uid(name, params, "1.0.0", subgroup="emotion.cnn")
if not audmodel.exists(uid):
    audmodel.publish(
        model_root,
        name,
        params,
        "1.0.0",
        subgroup="emotion.cnn",
        alias="emotion-quickstart",
        meta={"data": {"emodb": {"version": "1.1.1"}}},
    )

print("UID:", uid)
print("header:")
pprint.pprint(audmodel.header(uid), sort_dicts=False)
print("meta:", audmodel.meta(uid))
folder = audmodel.load("emotion-quickstart")
print("loaded folder:", folder)
for base, _, files in sorted(os.walk(folder)):
    for file in sorted(files):
        print("  ", os.path.relpath(os.path.join(base, file), folder))
