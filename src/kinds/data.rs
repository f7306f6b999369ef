//! `standby_data`: stores `input` and exposes it as `output`, making no cloud
//! calls (like Terraform's `terraform_data`). Useful for naming schemes and
//! for proving the engine.

use super::schema::{Prop, Schema, Type};
use super::{Created, Ctx, Kind, KindError};
use crate::value::{Attrs, Value};
use async_trait::async_trait;

pub struct StandbyData;

static SCHEMA: Schema = Schema {
    props: &[
        Prop::optional("input", Type::Any, "Any value; copied to `output`."),
        Prop::optional("triggers_replace", Type::Any, "Any value; changing it replaces the resource.").force_new(),
        Prop::computed("output", Type::Any, "The stored `input`."),
        Prop::computed("id", Type::String, "A random identifier."),
    ],
};

#[async_trait]
impl Kind for StandbyData {
    fn type_name(&self) -> &'static str {
        "standby_data"
    }

    fn schema(&self) -> &'static Schema {
        &SCHEMA
    }

    fn derive(&self, planned: &mut Attrs) {
        let input = planned.get("input").cloned().unwrap_or(Value::Null);
        planned.insert("output".into(), input);
    }

    fn state_only(&self) -> bool {
        true
    }

    fn sensitive_follows(&self) -> &'static [(&'static str, &'static str)] {
        &[("input", "output")]
    }

    async fn create(&self, _cx: &Ctx<'_>, desired: &Attrs) -> Result<Created, KindError> {
        let id = crate::ids::random_id();
        let mut attrs = desired.clone();
        self.derive(&mut attrs);
        attrs.insert("id".into(), Value::str(&id));
        Ok(Created { id, attrs })
    }

    async fn read(&self, _cx: &Ctx<'_>, _id: &str, prior: &Attrs) -> Result<Option<Attrs>, KindError> {
        Ok(Some(prior.clone()))
    }

    async fn update(&self, _cx: &Ctx<'_>, _id: &str, _prior: &Attrs, _desired: &Attrs) -> Result<(), KindError> {
        Ok(())
    }

    async fn delete(&self, _cx: &Ctx<'_>, _id: &str, _prior: &Attrs) -> Result<(), KindError> {
        Ok(())
    }
}
