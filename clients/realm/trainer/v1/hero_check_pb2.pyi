from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ValidateHeroRequest(_message.Message):
    __slots__ = ("name", "model_dir", "micro_batch_size", "sequence_length")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_DIR_FIELD_NUMBER: _ClassVar[int]
    MICRO_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_LENGTH_FIELD_NUMBER: _ClassVar[int]
    name: str
    model_dir: str
    micro_batch_size: int
    sequence_length: int
    def __init__(self, name: _Optional[str] = ..., model_dir: _Optional[str] = ..., micro_batch_size: _Optional[int] = ..., sequence_length: _Optional[int] = ...) -> None: ...

class HeroFinding(_message.Message):
    __slots__ = ("field", "message", "error")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    field: str
    message: str
    error: bool
    def __init__(self, field: _Optional[str] = ..., message: _Optional[str] = ..., error: _Optional[bool] = ...) -> None: ...

class HeroShape(_message.Message):
    __slots__ = ("model_type", "architectures", "hidden_size", "num_layers", "num_attention_heads", "num_key_value_heads", "head_dim", "intermediate_size", "vocab_size", "tie_word_embeddings", "max_position_embeddings", "torch_dtype")
    MODEL_TYPE_FIELD_NUMBER: _ClassVar[int]
    ARCHITECTURES_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_SIZE_FIELD_NUMBER: _ClassVar[int]
    NUM_LAYERS_FIELD_NUMBER: _ClassVar[int]
    NUM_ATTENTION_HEADS_FIELD_NUMBER: _ClassVar[int]
    NUM_KEY_VALUE_HEADS_FIELD_NUMBER: _ClassVar[int]
    HEAD_DIM_FIELD_NUMBER: _ClassVar[int]
    INTERMEDIATE_SIZE_FIELD_NUMBER: _ClassVar[int]
    VOCAB_SIZE_FIELD_NUMBER: _ClassVar[int]
    TIE_WORD_EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    MAX_POSITION_EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    TORCH_DTYPE_FIELD_NUMBER: _ClassVar[int]
    model_type: str
    architectures: _containers.RepeatedScalarFieldContainer[str]
    hidden_size: int
    num_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    tie_word_embeddings: bool
    max_position_embeddings: int
    torch_dtype: str
    def __init__(self, model_type: _Optional[str] = ..., architectures: _Optional[_Iterable[str]] = ..., hidden_size: _Optional[int] = ..., num_layers: _Optional[int] = ..., num_attention_heads: _Optional[int] = ..., num_key_value_heads: _Optional[int] = ..., head_dim: _Optional[int] = ..., intermediate_size: _Optional[int] = ..., vocab_size: _Optional[int] = ..., tie_word_embeddings: _Optional[bool] = ..., max_position_embeddings: _Optional[int] = ..., torch_dtype: _Optional[str] = ...) -> None: ...

class HeroRequirement(_message.Message):
    __slots__ = ("field", "package", "needs_cuda", "package_installed", "cuda_available", "message")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_FIELD_NUMBER: _ClassVar[int]
    NEEDS_CUDA_FIELD_NUMBER: _ClassVar[int]
    PACKAGE_INSTALLED_FIELD_NUMBER: _ClassVar[int]
    CUDA_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    field: str
    package: str
    needs_cuda: bool
    package_installed: bool
    cuda_available: bool
    message: str
    def __init__(self, field: _Optional[str] = ..., package: _Optional[str] = ..., needs_cuda: _Optional[bool] = ..., package_installed: _Optional[bool] = ..., cuda_available: _Optional[bool] = ..., message: _Optional[str] = ...) -> None: ...

class HeroMemoryLine(_message.Message):
    __slots__ = ("name", "bytes", "formula")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    FORMULA_FIELD_NUMBER: _ClassVar[int]
    name: str
    bytes: int
    formula: str
    def __init__(self, name: _Optional[str] = ..., bytes: _Optional[int] = ..., formula: _Optional[str] = ...) -> None: ...

class GpuFit(_message.Message):
    __slots__ = ("name", "memory_bytes", "examples", "fits", "headroom_bytes")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    FITS_FIELD_NUMBER: _ClassVar[int]
    HEADROOM_BYTES_FIELD_NUMBER: _ClassVar[int]
    name: str
    memory_bytes: int
    examples: str
    fits: bool
    headroom_bytes: int
    def __init__(self, name: _Optional[str] = ..., memory_bytes: _Optional[int] = ..., examples: _Optional[str] = ..., fits: _Optional[bool] = ..., headroom_bytes: _Optional[int] = ...) -> None: ...

class ValidateHeroResponse(_message.Message):
    __slots__ = ("hero", "valid", "findings", "model_dir", "shape", "parameter_count", "parameter_source", "precision", "optimizer", "micro_batch_size", "sequence_length", "gradient_checkpointing", "memory", "estimate_bytes", "estimate_gib", "gpus", "smallest_fit", "requirements", "trainable_here")
    HERO_FIELD_NUMBER: _ClassVar[int]
    VALID_FIELD_NUMBER: _ClassVar[int]
    FINDINGS_FIELD_NUMBER: _ClassVar[int]
    MODEL_DIR_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_COUNT_FIELD_NUMBER: _ClassVar[int]
    PARAMETER_SOURCE_FIELD_NUMBER: _ClassVar[int]
    PRECISION_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZER_FIELD_NUMBER: _ClassVar[int]
    MICRO_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_LENGTH_FIELD_NUMBER: _ClassVar[int]
    GRADIENT_CHECKPOINTING_FIELD_NUMBER: _ClassVar[int]
    MEMORY_FIELD_NUMBER: _ClassVar[int]
    ESTIMATE_BYTES_FIELD_NUMBER: _ClassVar[int]
    ESTIMATE_GIB_FIELD_NUMBER: _ClassVar[int]
    GPUS_FIELD_NUMBER: _ClassVar[int]
    SMALLEST_FIT_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    TRAINABLE_HERE_FIELD_NUMBER: _ClassVar[int]
    hero: str
    valid: bool
    findings: _containers.RepeatedCompositeFieldContainer[HeroFinding]
    model_dir: str
    shape: HeroShape
    parameter_count: int
    parameter_source: str
    precision: str
    optimizer: str
    micro_batch_size: int
    sequence_length: int
    gradient_checkpointing: bool
    memory: _containers.RepeatedCompositeFieldContainer[HeroMemoryLine]
    estimate_bytes: int
    estimate_gib: float
    gpus: _containers.RepeatedCompositeFieldContainer[GpuFit]
    smallest_fit: str
    requirements: _containers.RepeatedCompositeFieldContainer[HeroRequirement]
    trainable_here: bool
    def __init__(self, hero: _Optional[str] = ..., valid: _Optional[bool] = ..., findings: _Optional[_Iterable[_Union[HeroFinding, _Mapping]]] = ..., model_dir: _Optional[str] = ..., shape: _Optional[_Union[HeroShape, _Mapping]] = ..., parameter_count: _Optional[int] = ..., parameter_source: _Optional[str] = ..., precision: _Optional[str] = ..., optimizer: _Optional[str] = ..., micro_batch_size: _Optional[int] = ..., sequence_length: _Optional[int] = ..., gradient_checkpointing: _Optional[bool] = ..., memory: _Optional[_Iterable[_Union[HeroMemoryLine, _Mapping]]] = ..., estimate_bytes: _Optional[int] = ..., estimate_gib: _Optional[float] = ..., gpus: _Optional[_Iterable[_Union[GpuFit, _Mapping]]] = ..., smallest_fit: _Optional[str] = ..., requirements: _Optional[_Iterable[_Union[HeroRequirement, _Mapping]]] = ..., trainable_here: _Optional[bool] = ...) -> None: ...
