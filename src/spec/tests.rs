use super::*;
use serde_json::json;

const SPEC30: &str = r##"
openapi: 3.0.3
info: {title: t, version: "1"}
paths: {}
x-webhooks:
  thing.created:
    post:
      operationId: thingCreated
      summary: A thing was created
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Thing'}
            examples:
              basic: {value: {event: thing.created, id: 1, size: S, kind: X, note: null}}
components:
  schemas:
    Thing:
      type: object
      required: [event, id]
      properties:
        event: {type: string}
        id: {type: integer}
        size: {type: string, enum: [S, M, L]}
        kind: {type: string, x-extensible-enum: [X, Y]}
        note: {type: string, nullable: true}
"##;

#[test]
fn thirty_x_webhooks_validate_and_report_paths() {
    let spec = Spec::from_text(SPEC30, "t.yaml").unwrap();
    assert_eq!(spec.events().len(), 1);
    let (_, example) = &spec.events()[0].examples[0];
    assert_eq!(spec.validate("thing.created", example), Some(Ok(())));
    let bad = json!({"event": "thing.created", "id": "one", "size": "XL"});
    let problems = spec.validate("thing.created", &bad).unwrap().unwrap_err();
    let paths: Vec<_> = problems.iter().map(|p| p.instance_path.as_str()).collect();
    assert!(
        paths.contains(&"/id") && paths.contains(&"/size"),
        "{problems:?}"
    );
    let missing = json!({"event": "thing.created"});
    let problems = spec
        .validate("thing.created", &missing)
        .unwrap()
        .unwrap_err();
    assert!(problems[0].message.contains("id"), "{problems:?}");
    assert_eq!(spec.validate("other", &missing), None);
}

#[test]
fn extensible_enum_accepts_and_counts_unknown_values() {
    let spec = Spec::from_text(SPEC30, "t.yaml").unwrap();
    let new_kind = json!({"event": "thing.created", "id": 1, "kind": "Z", "extra": true});
    assert_eq!(spec.validate("thing.created", &new_kind), Some(Ok(())));
    assert_eq!(spec.unknown_values().total(), 1);
    let counts = spec.unknown_values().counts();
    assert_eq!(counts[0].1, "Z");
    assert!(counts[0].0.ends_with("/properties/kind"), "{counts:?}");
    // An invalid event is counted at most once (not again when its errors are collected).
    let invalid = json!({"event": "thing.created", "id": "x", "kind": "Z"});
    assert!(spec.validate("thing.created", &invalid).unwrap().is_err());
    assert!(spec.unknown_values().total() <= 2);
}

const ASSUMED30: &str = r##"
openapi: 3.0.3
info: {title: t, version: "1"}
x-webhooks:
  documented:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Envelope'}
  guessed:
    post:
      x-hookgate-assumed: true
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {id: {type: string}}}
components:
  schemas:
    Envelope:
      type: object
      required: [event, data]
      properties:
        event: {type: string}
        data: {$ref: '#/components/schemas/Data'}
        extra: {$ref: '#/components/schemas/Extra', x-hookgate-assumed: true}
    Data:
      type: object
      required: [id]
      properties:
        id: {type: integer}
        note: {type: string, x-hookgate-assumed: true}
    Extra: {type: object}
"##;

fn paths(problems: &[Problem]) -> Vec<&str> {
    let mut paths: Vec<&str> = problems.iter().map(|p| p.instance_path.as_str()).collect();
    paths.sort_unstable();
    paths
}

#[test]
fn assumed_parts_are_reported_and_documented_ones_refused() {
    use ValidationMode::{Enforce, Off, Report};
    let spec = Spec::from_text(ASSUMED30, "a.yaml").unwrap();
    assert_eq!(spec.mode(), None);
    let valid = json!({"event": "documented", "data": {"id": 1, "note": "n"}});
    assert_eq!(
        spec.check("documented", &valid, Enforce),
        Some(Verdict::Valid)
    );

    // A schema marked assumed (and one next to a 3.0 $ref): reported, not refused.
    let guessed = json!({"event": "documented", "data": {"id": 1, "note": 7}, "extra": 1});
    match spec.check("documented", &guessed, Enforce) {
        Some(Verdict::Mismatched(problems)) => {
            assert_eq!(paths(&problems), ["/data/note", "/extra"], "{problems:?}");
        }
        other => panic!("{other:?}"),
    }
    // A documented part refuses, and lists only what refuses.
    let wrong = json!({"event": "documented", "data": {"id": "1", "note": 7}});
    match spec.check("documented", &wrong, Enforce) {
        Some(Verdict::Invalid(problems)) => assert_eq!(paths(&problems), ["/data/id"]),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        spec.check("documented", &wrong, Report),
        Some(Verdict::Mismatched(p)) if p.len() == 2
    ));
    assert_eq!(spec.check("documented", &wrong, Off), Some(Verdict::Valid));

    // An operation marked assumed never refuses.
    let op = json!({"id": 5});
    assert!(matches!(
        spec.check("guessed", &op, Enforce),
        Some(Verdict::Mismatched(_))
    ));
    assert_eq!(spec.is_assumed("guessed"), Some(true));
    assert_eq!(spec.is_assumed("documented"), Some(false));
    assert_eq!(spec.check("other", &op, Enforce), None);
    // The plain validation still sees everything.
    assert!(spec.validate("documented", &guessed).unwrap().is_err());
}

#[test]
fn a_document_may_set_its_own_mode() {
    let text = SPEC30.replace("paths: {}", "paths: {}\nx-hookgate-validate: report");
    let spec = Arc::new(Spec::from_text(&text, "m.yaml").unwrap());
    assert_eq!(spec.mode(), Some(ValidationMode::Report));
    let validator = SpecValidator::new(Arc::clone(&spec), UnknownEvents::Reject);
    assert_eq!(validator.effective_mode(), ValidationMode::Report);
    let validator = validator.mode(Some(ValidationMode::Enforce));
    assert_eq!(validator.effective_mode(), ValidationMode::Enforce);

    let bad = SPEC30.replace("paths: {}", "paths: {}\nx-hookgate-validate: lenient");
    let err = Spec::from_text(&bad, "m.yaml").unwrap_err();
    assert_eq!(err.pointer, "/x-hookgate-validate");
}

#[test]
fn extensible_enum_flag_form_accepts_and_counts_unknown_values() {
    let text = r##"
openapi: 3.1.0
info: {title: t, version: "1"}
webhooks:
  e:
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties:
                open: {type: string, enum: [A, B], x-extensible-enum: true}
                closed: {type: string, enum: [A, B], x-extensible-enum: false}
"##;
    let spec = Spec::from_text(text, "flag.yaml").unwrap();
    assert_eq!(spec.validate("e", &json!({"open": "C"})), Some(Ok(())));
    assert_eq!(spec.validate("e", &json!({"open": "A"})), Some(Ok(())));
    let counts = spec.unknown_values().counts();
    assert_eq!(counts.len(), 1, "{counts:?}");
    assert!(counts[0].0.ends_with("/properties/open") && counts[0].1 == "C");
    let problems = spec
        .validate("e", &json!({"closed": "C"}))
        .unwrap()
        .unwrap_err();
    assert_eq!(problems[0].instance_path, "/closed");
}

#[test]
fn paths_apply_to_every_event_type() {
    let text = r##"
openapi: 3.0.1
info: {title: t, version: "1"}
paths:
  /hook:
    post:
      requestBody:
        content:
          application/json:
            schema: {type: object, properties: {id: {type: integer}}}
"##;
    let spec = Spec::from_text(text, "p.yaml").unwrap();
    assert!(spec.knows("ANYTHING.AT_ALL"));
    assert!(spec.validate("X", &json!({"id": "no"})).unwrap().is_err());
}

#[test]
fn openapi31_webhooks_are_read() {
    let text = r##"
openapi: 3.1.0
info: {title: t, version: "1"}
webhooks:
  ping:
    post:
      requestBody:
        content:
          application/json:
            schema:
              type: object
              required: [zen]
              properties: {zen: {type: [string, "null"]}}
"##;
    let spec = Spec::from_text(text, "w.yaml").unwrap();
    assert_eq!(spec.validate("ping", &json!({"zen": null})), Some(Ok(())));
    assert!(spec.validate("ping", &json!({})).unwrap().is_err());
}

#[test]
fn event_types_and_examples_keep_document_order() {
    let text = r##"
openapi: 3.0.3
info: {title: t, version: "1"}
x-webhooks:
  zebra:
    post: {requestBody: {content: {application/json: {schema: {}, examples: {z: {value: 1}, a: {value: 2}}}}}}
  apple:
    post: {requestBody: {content: {application/json: {schema: {}}}}}
"##;
    let spec = Spec::from_text(text, "o.yaml").unwrap();
    let kinds: Vec<_> = spec
        .events()
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(kinds, ["zebra", "apple"]);
    let names: Vec<_> = spec.events()[0]
        .examples
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["z", "a"]);
}

#[test]
fn errors_name_the_file_and_pointer() {
    let text = r##"
openapi: 3.0.3
info: {title: t, version: "1"}
x-webhooks:
  a/b:
    post:
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/Missing'}
"##;
    let err = Spec::from_text(text, "bad.yaml").unwrap_err();
    assert_eq!(err.origin, "bad.yaml");
    assert!(err.pointer.starts_with("/x-webhooks/a~1b/post"), "{err}");

    let err = Spec::from_text("openapi: 2.0\n", "old.yaml").unwrap_err();
    assert_eq!(err.pointer, "/openapi");
    let err = Spec::from_text("{", "broken.yaml").unwrap_err();
    assert!(err.message.starts_with("not YAML"), "{err}");
}
