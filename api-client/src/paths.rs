//! Request paths from letro-api's route table: the template of the route with the operation id,
//! each `{name}` replaced by its value, percent-encoded.

use letro_api::routes::{route, Route};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::Error;

/// What a path segment keeps unencoded: RFC 3986's unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The route with this operation id.
pub(crate) fn route_of(operation_id: &'static str) -> Result<&'static Route, Error> {
    route(operation_id).ok_or(Error::Unreachable(
        "an operation id that is not in letro-api's route table",
    ))
}

/// The path of `route` with `values` for its parameters, in the order the route declares them
/// (the order they appear in the template). Each value is percent-encoded as one segment; an
/// empty value, `.` and `..` are refused, since URL parsers treat them as dot segments.
pub fn fill(route: &Route, values: &[&str]) -> Result<String, Error> {
    if values.len() != route.params.len() {
        return Err(Error::Unreachable(
            "a parameter list that does not match the route's",
        ));
    }
    let mut out =
        String::with_capacity(route.path.len() + values.iter().map(|v| v.len()).sum::<usize>());
    let mut next = route.params.iter().zip(values);
    for segment in route.path.split('/').skip(1) {
        out.push('/');
        if segment.starts_with('{') && segment.ends_with('}') {
            let Some((param, value)) = next.next() else {
                return Err(Error::Unreachable(
                    "a template with an undeclared parameter",
                ));
            };
            if param.ty == letro_api::routes::ParamType::TilePath {
                // Several segments, sent as they are: a tlog-tiles path below `tile/`.
                let path =
                    letro_log::tiles::TilePath::parse(&format!("tile/{value}")).map_err(|_| {
                        Error::UnsendableParameter {
                            name: param.name,
                            value: (*value).to_owned(),
                        }
                    })?;
                out.push_str(path.to_string().trim_start_matches("tile/"));
                continue;
            }
            if value.is_empty() || *value == "." || *value == ".." {
                return Err(Error::UnsendableParameter {
                    name: param.name,
                    value: (*value).to_owned(),
                });
            }
            out.extend(utf8_percent_encode(value, SEGMENT));
        } else {
            out.push_str(segment);
        }
    }
    Ok(out)
}

/// The path of the route with `operation_id`, filled as [`fill`] does.
pub fn path(operation_id: &'static str, values: &[&str]) -> Result<String, Error> {
    fill(route_of(operation_id)?, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_filled_and_values_encoded() {
        assert_eq!(path("healthz", &[]).unwrap(), "/healthz");
        assert_eq!(
            path("post_ack", &["ab12"]).unwrap(),
            "/v1/mailbox/ab12/receipt"
        );
        assert_eq!(
            path("get_prekey_bundle", &["a b/c?d#e%f.g_h-i~j"]).unwrap(),
            "/v1/directory/a%20b%2Fc%3Fd%23e%25f.g_h-i~j"
        );
        assert_eq!(path("post_message", &["ü"]).unwrap(), "/v1/messages/%C3%BC");
        for bad in ["", ".", ".."] {
            assert!(matches!(
                path("get_proof_job", &[bad]),
                Err(Error::UnsendableParameter { name: "job_id", .. })
            ));
        }
        assert!(matches!(
            path("get_proof_job", &[]),
            Err(Error::Unreachable(_))
        ));
        assert!(matches!(
            path("no_such_route", &[]),
            Err(Error::Unreachable(_))
        ));
    }

    #[test]
    fn every_route_can_be_filled() {
        for r in letro_api::ROUTES {
            if r.path.ends_with("{tile}") {
                continue; // several segments: `a_tile_path_is_sent_as_it_is`
            }
            let values = vec!["x"; r.params.len()];
            let p = fill(r, &values).unwrap();
            assert_eq!(
                p.matches('/').count(),
                r.path.matches('/').count(),
                "{}",
                r.path
            );
            assert!(!p.contains('{'), "{p}");
        }
    }

    #[test]
    fn a_tile_path_is_sent_as_it_is() {
        assert_eq!(
            path("get_tlog_tile", &["entries/x001/234.p/5"]).unwrap(),
            "/v1/log/tile/entries/x001/234.p/5"
        );
        assert_eq!(
            path("get_tlog_tile", &["0/000"]).unwrap(),
            "/v1/log/tile/0/000"
        );
        for bad in [
            "x",
            "",
            "../000",
            "0/0001",
            "0/000?a",
            "0/000#",
            "0/x000/001",
        ] {
            assert!(
                matches!(
                    path("get_tlog_tile", &[bad]),
                    Err(Error::UnsendableParameter { name: "tile", .. })
                ),
                "{bad}"
            );
        }
    }
}
