"""Midterm submissions by an adversary who has read all of our code (issue 8). Built on the
released (buggy) exam, so any point earned would be the attack's."""
from autograder.samples import ALL, Sample

SAMPLES = [
    Sample("attack_answer_key_from_memory", "looks for the concept questions' answer key in its own memory",
           base="blank", loses=ALL, append='''
import gc, sys
key = {}
for obj in gc.get_objects():
    if type(obj) is dict and "c7" in obj and "c12" in obj and obj.get("c7") is not None:
        key.update(obj)
for module in list(sys.modules.values()):
    found = getattr(module, "KEY", None)
    if isinstance(found, dict) and "c7" in found:
        key.update(found)
answers = {qid: (float(v) if isinstance(v, str) and v.replace(".", "").isdigit() else v) for qid, v in key.items()}
'''),
]
