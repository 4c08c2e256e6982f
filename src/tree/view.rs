//! A read-only view of a JSON value, the same for the parsed tree and for `serde_json`.
//!
//! The [`EventShape`](crate::parse::shape::EventShape) reads an event's type and id from the
//! parsed tree on the request path and from a `serde_json::Value` in tools and dry runs; both
//! must give the same answer. [`View`] is what it reads through: the few questions it asks of a
//! node, answered by `&sonic_rs::Value` and `&serde_json::Value` alike. It is hookgate's own so
//! that the core needs no schema validator to read an event (the `jsonschema` crate has a richer
//! trait of the same kind, which the tree implements under the `schema` feature).

use std::borrow::Cow;

use sonic_rs::{JsonContainerTrait, JsonValueTrait};

use super::serde_number;

/// One node of a JSON document, borrowed for `'a`.
pub trait View<'a>: Copy + 'a {
    /// The member `key` of an object (`None` for a missing key or a node that is not an object).
    fn member(self, key: &str) -> Option<Self>;
    /// The element at `index` of an array (`None` past its end or for a node that is not one).
    fn element(self, index: usize) -> Option<Self>;
    /// An object's members in document order; `None` if the node is not an object.
    fn object_members(self) -> Option<impl Iterator<Item = (&'a str, Self)>>;
    /// An array's elements in order; `None` if the node is not an array.
    fn array_elements(self) -> Option<impl Iterator<Item = Self>>;
    /// The text of a string.
    fn text(self) -> Option<&'a str>;
    /// A number, as `serde_json` holds it (so both views write it the same way).
    fn number(self) -> Option<Cow<'a, serde_json::Number>>;
    /// A boolean.
    fn boolean(self) -> Option<bool>;
    /// Whether the node is `null`.
    fn is_json_null(self) -> bool;
}

impl<'a> View<'a> for &'a sonic_rs::Value {
    fn member(self, key: &str) -> Option<Self> {
        // `tree::parse` refuses repeated keys, so the first match is the only one.
        self.as_object()?
            .iter()
            .find_map(|(name, value)| (name == key).then_some(value))
    }

    fn element(self, index: usize) -> Option<Self> {
        self.as_array()?.get(index)
    }

    fn object_members(self) -> Option<impl Iterator<Item = (&'a str, Self)>> {
        Some(self.as_object()?.iter())
    }

    fn array_elements(self) -> Option<impl Iterator<Item = Self>> {
        Some(self.as_array()?.iter())
    }

    fn text(self) -> Option<&'a str> {
        JsonValueTrait::as_str(self)
    }

    fn number(self) -> Option<Cow<'a, serde_json::Number>> {
        JsonValueTrait::as_number(self).map(|n| Cow::Owned(serde_number(&n)))
    }

    fn boolean(self) -> Option<bool> {
        JsonValueTrait::as_bool(self)
    }

    fn is_json_null(self) -> bool {
        JsonValueTrait::is_null(self)
    }
}

impl<'a> View<'a> for &'a serde_json::Value {
    fn member(self, key: &str) -> Option<Self> {
        self.as_object()?.get(key)
    }

    fn element(self, index: usize) -> Option<Self> {
        self.as_array()?.get(index)
    }

    fn object_members(self) -> Option<impl Iterator<Item = (&'a str, Self)>> {
        Some(self.as_object()?.iter().map(|(k, v)| (k.as_str(), v)))
    }

    fn array_elements(self) -> Option<impl Iterator<Item = Self>> {
        Some(self.as_array()?.iter())
    }

    fn text(self) -> Option<&'a str> {
        serde_json::Value::as_str(self)
    }

    fn number(self) -> Option<Cow<'a, serde_json::Number>> {
        match self {
            serde_json::Value::Number(n) => Some(Cow::Borrowed(n)),
            _ => None,
        }
    }

    fn boolean(self) -> Option<bool> {
        serde_json::Value::as_bool(self)
    }

    fn is_json_null(self) -> bool {
        serde_json::Value::is_null(self)
    }
}

/// The value at a JSON pointer (RFC 6901) in either view: `serde_json::Value` or the tree.
pub fn pointer<'a, V: View<'a>>(root: V, pointer: &str) -> Option<V> {
    if pointer.is_empty() {
        return Some(root);
    }
    let rest = pointer.strip_prefix('/')?;
    let mut node = root;
    for token in rest.split('/') {
        let token: Cow<'_, str> = if token.contains('~') {
            Cow::Owned(token.replace("~1", "/").replace("~0", "~"))
        } else {
            Cow::Borrowed(token)
        };
        node = match node.member(&token) {
            Some(next) => next,
            None => node.element(parse_index(&token)?)?,
        };
    }
    Some(node)
}

/// An array index as RFC 6901 writes it: digits, no leading zero (but `0` itself).
fn parse_index(token: &str) -> Option<usize> {
    if token.is_empty()
        || !token.bytes().all(|b| b.is_ascii_digit())
        || (token.len() > 1 && token.starts_with('0'))
    {
        return None;
    }
    token.parse().ok()
}
