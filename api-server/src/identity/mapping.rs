//! Group → role mapping, shared by every identity provider: the first mapping (in the order
//! configured) whose group the person is in, else the provider's role for the calling app,
//! else its default role, else no role at all. Pure.

use serde_json::{Map, Value};

/// A provider's role rules, from its service config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleMapping {
    /// `(group, role id)` in priority order.
    pub groups: Vec<(String, i64)>,
    /// `(app id, role id)`.
    pub apps: Vec<(i64, i64)>,
    pub default_role: Option<i64>,
}

/// How a person got (or did not get) a role, for the answer that refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleSource {
    Group,
    App,
    Default,
}

impl RoleMapping {
    /// Reads `group_role_map`, `app_role_map` and `default_role` from a service config.
    pub fn from_config(config: &Map<String, Value>) -> Result<Self, String> {
        let role = |v: &Value, what: &str| -> Result<i64, String> {
            v.as_i64()
                .filter(|id| *id > 0)
                .ok_or_else(|| format!("'{what}' must be a role id (a positive number)."))
        };
        let list = |key: &str| -> Result<Vec<Map<String, Value>>, String> {
            match config.get(key) {
                None | Some(Value::Null) => Ok(Vec::new()),
                Some(Value::Array(items)) => items
                    .iter()
                    .map(|i| {
                        i.as_object()
                            .cloned()
                            .ok_or_else(|| format!("Each entry of '{key}' must be an object."))
                    })
                    .collect(),
                Some(_) => Err(format!("'{key}' must be a list.")),
            }
        };
        let mut groups = Vec::new();
        for entry in list("group_role_map")? {
            let group = entry
                .get("group")
                .and_then(Value::as_str)
                .filter(|g| !g.is_empty())
                .ok_or("Each entry of 'group_role_map' needs a 'group'.")?;
            let id = role(entry.get("role_id").unwrap_or(&Value::Null), "role_id")?;
            groups.push((group.to_owned(), id));
        }
        let mut apps = Vec::new();
        for entry in list("app_role_map")? {
            let app = entry
                .get("app_id")
                .and_then(Value::as_i64)
                .ok_or("Each entry of 'app_role_map' needs an 'app_id'.")?;
            let id = role(entry.get("role_id").unwrap_or(&Value::Null), "role_id")?;
            apps.push((app, id));
        }
        let default_role = match config.get("default_role") {
            None | Some(Value::Null) => None,
            Some(v) => Some(role(v, "default_role")?),
        };
        Ok(Self {
            groups,
            apps,
            default_role,
        })
    }

    /// The same mapping with every group name rewritten (e.g. DNs into canonical form).
    #[must_use]
    pub fn map_groups(self, f: impl Fn(&str) -> String) -> Self {
        Self {
            groups: self.groups.iter().map(|(g, id)| (f(g), *id)).collect(),
            ..self
        }
    }

    /// The role of a person in `groups` calling through `app`.
    #[must_use]
    pub fn resolve(&self, groups: &[String], app: Option<i64>) -> Option<(i64, RoleSource)> {
        if let Some((_, id)) = self.groups.iter().find(|(g, _)| groups.contains(g)) {
            return Some((*id, RoleSource::Group));
        }
        if let Some((_, id)) = app.and_then(|a| self.apps.iter().find(|(id, _)| *id == a)) {
            return Some((*id, RoleSource::App));
        }
        self.default_role.map(|id| (id, RoleSource::Default))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn mapping(v: Value) -> RoleMapping {
        RoleMapping::from_config(v.as_object().unwrap()).unwrap()
    }

    #[test]
    fn the_first_matching_group_wins_then_the_app_then_the_default() {
        let m = mapping(json!({
            "group_role_map": [{"group": "admins", "role_id": 1}, {"group": "sales", "role_id": 3}],
            "app_role_map": [{"app_id": 7, "role_id": 5}],
            "default_role": 9
        }));
        let g = |names: &[&str]| names.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            m.resolve(&g(&["sales", "admins"]), None),
            Some((1, RoleSource::Group))
        );
        assert_eq!(
            m.resolve(&g(&["sales"]), Some(7)),
            Some((3, RoleSource::Group))
        );
        assert_eq!(
            m.resolve(&g(&["admins-readonly"]), Some(7)),
            Some((5, RoleSource::App))
        );
        assert_eq!(m.resolve(&g(&[]), Some(8)), Some((9, RoleSource::Default)));
        assert_eq!(mapping(json!({})).resolve(&g(&["sales"]), None), None);
    }

    #[test]
    fn malformed_mappings_are_refused_with_the_key_named() {
        for bad in [
            json!({"group_role_map": {"group": "x"}}),
            json!({"group_role_map": [{"group": "x", "role_id": "3"}]}),
            json!({"group_role_map": [{"role_id": 3}]}),
            json!({"app_role_map": [{"role_id": 3}]}),
            json!({"default_role": -1}),
        ] {
            let e = RoleMapping::from_config(bad.as_object().unwrap()).unwrap_err();
            assert!(e.contains("role") || e.contains("map"), "{e}");
        }
    }
}
