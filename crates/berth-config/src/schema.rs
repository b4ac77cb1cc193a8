//! The configuration's keys as Distribution's Go structs lay them out, for
//! walking `REGISTRY_*` variable names and for "did you mean" hints.

/// What a place in the configuration holds.
#[derive(Clone, Copy)]
pub(crate) enum Shape {
    /// A Go struct: fixed fields.
    Struct(&'static Struct),
    /// A map from free keys to values of one shape.
    Map(&'static Shape),
    /// `storage` and `auth`: a map of names to parameter maps, also written as a bare name.
    Providers,
    /// A list of values of one shape.
    List(&'static Shape),
    /// A single value.
    Scalar,
    /// Anything (`interface{}`): a parameter value.
    Any,
}

/// A Go struct's fields by YAML key, grouped by shape so the tables stay
/// short. A field's Go name, which variables spell, is its key in capitals
/// unless a [`Field`] gives another.
pub(crate) struct Struct {
    /// Fields that hold a single value.
    values: &'static [&'static str],
    /// Fields that hold a list of single values.
    lists: &'static [&'static str],
    /// Fields of any other shape, and those Go names differently.
    others: &'static [Field],
}

/// One field of a Go struct.
#[derive(Clone, Copy)]
pub(crate) struct Field {
    /// The Go name when it is not the key in capitals.
    go: Option<&'static str>,
    /// The YAML key.
    pub key: &'static str,
    /// What the field holds.
    pub shape: Shape,
}

impl Field {
    /// The Go name in capitals, as variables spell it.
    pub fn go_name(&self) -> String {
        self.go.unwrap_or(self.key).to_ascii_uppercase()
    }
}

impl Struct {
    /// Every field: single values, then lists, then the others.
    pub fn fields(&self) -> impl Iterator<Item = Field> + '_ {
        let values = self.values.iter().map(|&key| f(key, Shape::Scalar));
        let lists = self.lists.iter().map(|&key| f(key, STRINGS));
        values.chain(lists).chain(self.others.iter().copied())
    }

    /// The field whose Go name is `name`, ignoring case.
    pub fn by_go_name(&self, name: &str) -> Option<Field> {
        self.fields()
            .find(|f| f.go.unwrap_or(f.key).eq_ignore_ascii_case(name))
    }
}

const fn f(key: &'static str, shape: Shape) -> Field {
    Field {
        go: None,
        key,
        shape,
    }
}

const fn renamed(go: &'static str, key: &'static str, shape: Shape) -> Field {
    Field {
        go: Some(go),
        key,
        shape,
    }
}

/// A struct of single values only.
const fn values(values: &'static [&'static str]) -> Struct {
    Struct {
        values,
        lists: &[],
        others: &[],
    }
}

/// A struct of lists of single values only.
const fn lists(lists: &'static [&'static str]) -> Struct {
    Struct {
        values: &[],
        lists,
        others: &[],
    }
}

/// A struct of neither single values nor lists of them.
const fn nested(others: &'static [Field]) -> Struct {
    Struct {
        values: &[],
        lists: &[],
        others,
    }
}

const STRINGS: Shape = Shape::List(&Shape::Scalar);
const HEADERS: Shape = Shape::Map(&STRINGS);
/// A driver's or middleware's parameters.
pub(crate) const PARAMS: Shape = Shape::Map(&Shape::Any);

const LOG: Struct = Struct {
    values: &["level", "formatter", "reportcaller"],
    lists: &[],
    others: &[
        f("accesslog", Shape::Struct(&values(&["disabled"]))),
        f("fields", PARAMS),
        f(
            "hooks",
            Shape::List(&Shape::Struct(&Struct {
                values: &["disabled", "type"],
                lists: &["levels"],
                others: &[renamed(
                    "MAILOPTIONS",
                    "options",
                    Shape::Struct(&Struct {
                        values: &["from"],
                        lists: &["to"],
                        others: &[f(
                            "smtp",
                            Shape::Struct(&values(&["addr", "username", "password", "insecure"])),
                        )],
                    }),
                )],
            })),
        ),
    ],
};

const MIDDLEWARE: Struct = Struct {
    values: &["name", "disabled"],
    lists: &[],
    others: &[f("options", PARAMS)],
};

const REPORTING: Struct = nested(&[
    f(
        "bugsnag",
        Shape::Struct(&values(&["apikey", "releasestage", "endpoint"])),
    ),
    f(
        "newrelic",
        Shape::Struct(&values(&["licensekey", "name", "verbose"])),
    ),
]);

const HTTP: Struct = Struct {
    values: &[
        "addr",
        "net",
        "host",
        "prefix",
        "secret",
        "relativeurls",
        "draintimeout",
    ],
    lists: &[],
    others: &[
        f(
            "tls",
            Shape::Struct(&Struct {
                values: &["certificate", "key", "clientauth", "minimumtls"],
                lists: &["clientcas", "ciphersuites"],
                others: &[f(
                    "letsencrypt",
                    Shape::Struct(&Struct {
                        values: &["cachefile", "email", "directoryurl"],
                        lists: &["hosts"],
                        others: &[],
                    }),
                )],
            }),
        ),
        f("headers", HEADERS),
        f(
            "debug",
            Shape::Struct(&Struct {
                values: &["addr"],
                lists: &[],
                others: &[f(
                    "prometheus",
                    Shape::Struct(&values(&["enabled", "path"])),
                )],
            }),
        ),
        f("http2", Shape::Struct(&values(&["disabled"]))),
        f("h2c", Shape::Struct(&values(&["enabled"]))),
    ],
};

const NOTIFICATIONS: Struct = nested(&[
    renamed(
        "EVENTCONFIG",
        "events",
        Shape::Struct(&values(&["includereferences"])),
    ),
    f(
        "endpoints",
        Shape::List(&Shape::Struct(&Struct {
            values: &["name", "disabled", "url", "timeout", "threshold", "backoff"],
            lists: &["ignoredmediatypes"],
            others: &[
                f("headers", HEADERS),
                f("ignore", Shape::Struct(&lists(&["mediatypes", "actions"]))),
            ],
        })),
    ),
]);

const REDIS: Struct = Struct {
    // go-redis UniversalOptions, inlined by Distribution v3, then v2's `addr`.
    values: &[
        "clientname",
        "db",
        "protocol",
        "username",
        "password",
        "sentinelusername",
        "sentinelpassword",
        "maxretries",
        "minretrybackoff",
        "maxretrybackoff",
        "dialtimeout",
        "readtimeout",
        "writetimeout",
        "contexttimeoutenabled",
        "poolfifo",
        "poolsize",
        "pooltimeout",
        "minidleconns",
        "maxidleconns",
        "maxactiveconns",
        "connmaxidletime",
        "connmaxlifetime",
        "maxredirects",
        "readonly",
        "routebylatency",
        "routerandomly",
        "mastername",
        "disableindentity",
        "disableidentity",
        "identitysuffix",
        "unstableresp3",
        "addr",
    ],
    lists: &["addrs"],
    others: &[
        f(
            "tls",
            Shape::Struct(&Struct {
                values: &["enabled", "certificate", "key"],
                lists: &["clientcas", "rootcas"],
                others: &[],
            }),
        ),
        // Distribution v2.
        f(
            "pool",
            Shape::Struct(&values(&["maxidle", "maxactive", "idletimeout"])),
        ),
    ],
};

const HEALTH: Struct = nested(&[
    renamed(
        "FILECHECKERS",
        "file",
        Shape::List(&Shape::Struct(&values(&["interval", "file", "threshold"]))),
    ),
    renamed(
        "HTTPCHECKERS",
        "http",
        Shape::List(&Shape::Struct(&Struct {
            values: &["timeout", "statuscode", "interval", "uri", "threshold"],
            lists: &[],
            others: &[f("headers", HEADERS)],
        })),
    ),
    renamed(
        "TCPCHECKERS",
        "tcp",
        Shape::List(&Shape::Struct(&values(&[
            "timeout",
            "interval",
            "addr",
            "threshold",
        ]))),
    ),
    f(
        "storagedriver",
        Shape::Struct(&values(&["enabled", "interval", "threshold"])),
    ),
]);

const VALIDATION: Struct = Struct {
    values: &["enabled", "disabled"],
    lists: &[],
    others: &[f(
        "manifests",
        Shape::Struct(&nested(&[
            f("urls", Shape::Struct(&lists(&["allow", "deny"]))),
            f(
                "indexes",
                Shape::Struct(&Struct {
                    values: &["platforms"],
                    lists: &[],
                    others: &[f(
                        "platformlist",
                        Shape::List(&Shape::Struct(&values(&["architecture", "os"]))),
                    )],
                }),
            ),
        ])),
    )],
};

/// The whole configuration.
pub(crate) const ROOT: Struct = Struct {
    values: &["version", "loglevel"],
    lists: &[],
    others: &[
        f("log", Shape::Struct(&LOG)),
        f("storage", Shape::Providers),
        f("auth", Shape::Providers),
        f(
            "middleware",
            Shape::Map(&Shape::List(&Shape::Struct(&MIDDLEWARE))),
        ),
        f("reporting", Shape::Struct(&REPORTING)),
        f("http", Shape::Struct(&HTTP)),
        f("notifications", Shape::Struct(&NOTIFICATIONS)),
        f("redis", Shape::Struct(&REDIS)),
        f("health", Shape::Struct(&HEALTH)),
        f("catalog", Shape::Struct(&values(&["maxentries"]))),
        f(
            "proxy",
            Shape::Struct(&Struct {
                values: &["remoteurl", "username", "password", "ttl"],
                lists: &[],
                others: &[f("exec", Shape::Struct(&values(&["command", "lifetime"])))],
            }),
        ),
        f(
            "compatibility",
            Shape::Struct(&nested(&[f(
                "schema1",
                Shape::Struct(&Struct {
                    values: &["enabled"],
                    lists: &[],
                    others: &[renamed("TRUSTKEY", "signingkeyfile", Shape::Scalar)],
                }),
            )])),
        ),
        f("validation", Shape::Struct(&VALIDATION)),
        f(
            "policy",
            Shape::Struct(&nested(&[f(
                "repository",
                Shape::Struct(&lists(&["classes"])),
            )])),
        ),
        f("tags", Shape::Struct(&values(&["maxtags"]))),
    ],
};

/// Known places of a key, for "did you mean" hints on unknown keys: the same
/// key in another case here, the same key in this top-level section, or,
/// for an unknown top-level key, the same key anywhere (`delete` →
/// `storage.delete`).
pub(crate) fn suggest(parent: &[String], key: &str) -> Option<String> {
    if parent == ["http"] && matches!(key, "hostname" | "hosturl" | "url") {
        return Some("http.host".to_string());
    }
    let mut found: Vec<Vec<&'static str>> = Vec::new();
    collect(&ROOT, &mut Vec::new(), key, &mut found);
    for section in crate::model::STORAGE_SECTIONS {
        if section.eq_ignore_ascii_case(key) {
            found.push(vec!["storage", section]);
        }
    }
    let here: Vec<&str> = parent
        .iter()
        .map(String::as_str)
        .filter(|s| s.parse::<usize>().is_err())
        .collect();
    if let Some(p) = found.iter().find(|p| p[..p.len() - 1] == here[..]) {
        return Some(p.join("."));
    }
    if !here.is_empty() {
        found.retain(|p| p.first() == here.first());
    }
    found.sort_by_key(|p| p.len());
    found.first().map(|p| p.join("."))
}

fn collect(
    fields: &'static Struct,
    path: &mut Vec<&'static str>,
    key: &str,
    found: &mut Vec<Vec<&'static str>>,
) {
    for field in fields.fields() {
        path.push(field.key);
        if field.key.eq_ignore_ascii_case(key) {
            found.push(path.clone());
        }
        match field.shape {
            Shape::Struct(inner) | Shape::List(&Shape::Struct(inner)) => {
                collect(inner, path, key, found)
            }
            _ => {}
        }
        path.pop();
    }
}
