//! The parsed tree as an instance `jsonschema` validates in place (the `schema` feature).

use std::borrow::Cow;

use jsonschema::JsonType;
use jsonschema::json::{Array, Json, JsonNumber, Node, NodeIdentity, Object};
use sonic_rs::{JsonContainerTrait, JsonNumberTrait, JsonValueTrait, Value};

use super::{serde_number, to_serde};

/// The [`sonic_rs::Value`] tree as a `jsonschema` instance representation.
#[derive(Debug)]
pub enum Sonic {}

impl Json for Sonic {
    type Node<'a> = &'a Value;
    type PreparedKey = String;
    // Objects are vectors of pairs: a lookup is a scan, so a members pass that visits a few keys
    // per lookup it replaces is the better deal.
    const KEYS_PER_LOOKUP: usize = 8;
    type StringBuffer = Value;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>(buffer: &mut Value, string: &str, f: impl FnOnce(&Value) -> T) -> T {
        *buffer = Value::copy_str(string);
        f(buffer)
    }
}

/// A number of the [`Sonic`] tree.
#[derive(Debug, Clone)]
pub struct SonicNumber(sonic_rs::Number);

impl JsonNumber for SonicNumber {
    fn as_u64(&self) -> Option<u64> {
        self.0.as_u64()
    }

    fn as_i64(&self) -> Option<i64> {
        self.0.as_i64()
    }

    fn as_f64(&self) -> Option<f64> {
        self.0.as_f64()
    }

    fn as_str(&self) -> Cow<'_, str> {
        Cow::Owned(serde_number(&self.0).to_string())
    }

    fn to_number(&self) -> Cow<'_, serde_json::Number> {
        Cow::Owned(serde_number(&self.0))
    }

    fn is_written_as_integer(&self) -> bool {
        // The tree keeps native numbers, not their text: integers parse as integers.
        self.0.is_u64() || self.0.is_i64()
    }
}

impl<'a> Node<'a, Sonic> for &'a Value {
    type Object = &'a sonic_rs::Object;
    type Array = &'a sonic_rs::Array;
    type Number = SonicNumber;

    fn as_object(&self) -> Option<Self::Object> {
        JsonContainerTrait::as_object(*self)
    }

    fn as_array(&self) -> Option<Self::Array> {
        JsonContainerTrait::as_array(*self)
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        JsonValueTrait::as_str(*self).map(Cow::Borrowed)
    }

    fn as_number(&self) -> Option<SonicNumber> {
        JsonValueTrait::as_number(*self).map(SonicNumber)
    }

    fn as_boolean(&self) -> Option<bool> {
        JsonValueTrait::as_bool(*self)
    }

    fn is_null(&self) -> bool {
        JsonValueTrait::is_null(*self)
    }

    fn is_number(&self) -> bool {
        JsonValueTrait::is_number(*self)
    }

    fn is_string(&self) -> bool {
        JsonValueTrait::is_str(*self)
    }

    fn json_type(&self) -> JsonType {
        match self.get_type() {
            sonic_rs::JsonType::Null => JsonType::Null,
            sonic_rs::JsonType::Boolean => JsonType::Boolean,
            sonic_rs::JsonType::Number => JsonType::Number,
            sonic_rs::JsonType::String => JsonType::String,
            sonic_rs::JsonType::Array => JsonType::Array,
            sonic_rs::JsonType::Object => JsonType::Object,
        }
    }

    fn equals_value(&self, expected: &serde_json::Value) -> bool {
        // `enum` and `const` of scalars are on the hot path: compare without building a value.
        match expected {
            serde_json::Value::String(s) => JsonValueTrait::as_str(*self) == Some(s.as_str()),
            serde_json::Value::Bool(b) => JsonValueTrait::as_bool(*self) == Some(*b),
            serde_json::Value::Null => JsonValueTrait::is_null(*self),
            serde_json::Value::Number(_) => match JsonValueTrait::as_number(*self) {
                Some(n) => jsonschema::json::cmp::equal(
                    &serde_json::Value::Number(serde_number(&n)),
                    expected,
                ),
                None => false,
            },
            _ => jsonschema::json::cmp::equal(&to_serde(self), expected),
        }
    }

    fn to_value(&self) -> Cow<'a, serde_json::Value> {
        Cow::Owned(to_serde(self))
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(
            std::ptr::from_ref::<Value>(*self) as usize
        ))
    }
}

impl<'a> Object<'a, Sonic> for &'a sonic_rs::Object {
    type Node = &'a Value;
    type MemberName = &'a str;
    type MembersIter = sonic_rs::value::object::Iter<'a>;

    fn len(&self) -> usize {
        sonic_rs::Object::len(self)
    }

    fn get(&self, key: &String) -> Option<&'a Value> {
        // `parse` refuses repeated keys, so the first match is the only one.
        self.iter()
            .find_map(|(name, value)| (name == key).then_some(value))
    }

    fn members(&self) -> Self::MembersIter {
        self.iter()
    }
}

impl<'a> Array<'a, Sonic> for &'a sonic_rs::Array {
    type Node = &'a Value;
    type ElementsIter = std::slice::Iter<'a, Value>;

    fn len(&self) -> usize {
        sonic_rs::Array::len(self)
    }

    fn elements(&self) -> Self::ElementsIter {
        self.iter()
    }
}
