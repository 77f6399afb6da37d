"""Sparkplug B payload messages (org.eclipse.tahu.protobuf, sparkplug_b.proto, proto2).

Built from a hand-written descriptor with the official field numbers and types for Payload,
Payload.Metric, Payload.MetaData and Payload.PropertyValue/PropertySet, since no protoc is
available at build time. Fields we do not model (DataSet, Template, extensions) are kept as
unknown fields by the protobuf runtime, so foreign payloads that use them still parse.
"""

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto


def _field(msg, name, number, ftype, label=_F.LABEL_OPTIONAL, type_name=None, oneof=None):
    f = msg.field.add(name=name, number=number, type=ftype, label=label)
    if type_name:
        f.type_name = type_name
    if oneof is not None:
        f.oneof_index = oneof
    return f


_file = descriptor_pb2.FileDescriptorProto(
    name="sparkplug_b.proto", package="org.eclipse.tahu.protobuf", syntax="proto2"
)
_payload = _file.message_type.add(name="Payload")
_field(_payload, "timestamp", 1, _F.TYPE_UINT64)
_field(_payload, "metrics", 2, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".org.eclipse.tahu.protobuf.Payload.Metric")
_field(_payload, "seq", 3, _F.TYPE_UINT64)
_field(_payload, "uuid", 4, _F.TYPE_STRING)
_field(_payload, "body", 5, _F.TYPE_BYTES)

_pv = _payload.nested_type.add(name="PropertyValue")
_pv.oneof_decl.add(name="value")
_field(_pv, "type", 1, _F.TYPE_UINT32)
_field(_pv, "is_null", 2, _F.TYPE_BOOL)
for _n, _num, _t in (("int_value", 3, _F.TYPE_UINT32), ("long_value", 4, _F.TYPE_UINT64),
                     ("float_value", 5, _F.TYPE_FLOAT), ("double_value", 6, _F.TYPE_DOUBLE),
                     ("boolean_value", 7, _F.TYPE_BOOL), ("string_value", 8, _F.TYPE_STRING)):
    _field(_pv, _n, _num, _t, oneof=0)

_ps = _payload.nested_type.add(name="PropertySet")
_field(_ps, "keys", 1, _F.TYPE_STRING, _F.LABEL_REPEATED)
_field(_ps, "values", 2, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, ".org.eclipse.tahu.protobuf.Payload.PropertyValue")

_md = _payload.nested_type.add(name="MetaData")
for _n, _num, _t in (("is_multi_part", 1, _F.TYPE_BOOL), ("content_type", 2, _F.TYPE_STRING),
                     ("size", 3, _F.TYPE_UINT64), ("seq", 4, _F.TYPE_UINT64),
                     ("file_name", 5, _F.TYPE_STRING), ("file_type", 6, _F.TYPE_STRING),
                     ("md5", 7, _F.TYPE_STRING), ("description", 8, _F.TYPE_STRING)):
    _field(_md, _n, _num, _t)

_metric = _payload.nested_type.add(name="Metric")
_metric.oneof_decl.add(name="value")
_field(_metric, "name", 1, _F.TYPE_STRING)
_field(_metric, "alias", 2, _F.TYPE_UINT64)
_field(_metric, "timestamp", 3, _F.TYPE_UINT64)
_field(_metric, "datatype", 4, _F.TYPE_UINT32)
_field(_metric, "is_historical", 5, _F.TYPE_BOOL)
_field(_metric, "is_transient", 6, _F.TYPE_BOOL)
_field(_metric, "is_null", 7, _F.TYPE_BOOL)
_field(_metric, "metadata", 8, _F.TYPE_MESSAGE, type_name=".org.eclipse.tahu.protobuf.Payload.MetaData")
_field(_metric, "properties", 9, _F.TYPE_MESSAGE, type_name=".org.eclipse.tahu.protobuf.Payload.PropertySet")
for _n, _num, _t in (("int_value", 10, _F.TYPE_UINT32), ("long_value", 11, _F.TYPE_UINT64),
                     ("float_value", 12, _F.TYPE_FLOAT), ("double_value", 13, _F.TYPE_DOUBLE),
                     ("boolean_value", 14, _F.TYPE_BOOL), ("string_value", 15, _F.TYPE_STRING),
                     ("bytes_value", 16, _F.TYPE_BYTES)):
    _field(_metric, _n, _num, _t, oneof=0)

_pool = descriptor_pool.DescriptorPool()
_pool.Add(_file)
DESCRIPTOR = _pool.FindFileByName("sparkplug_b.proto")
Payload = message_factory.GetMessageClass(DESCRIPTOR.message_types_by_name["Payload"])

# DataType enumeration of the specification (section 6.4.16)
Int8, Int16, Int32, Int64 = 1, 2, 3, 4
UInt8, UInt16, UInt32, UInt64 = 5, 6, 7, 8
Float, Double, Boolean, String, DateTime, Text = 9, 10, 11, 12, 13, 14
