import { Component } from "@odoo/owl";
import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { standardFieldProps } from "@web/views/fields/standard_field_props";

/** A step of Settings › WhatsApp's checklist: a green check when done, an empty circle when pending. */
export class OnboardingStepField extends Component {
    static template = "whatsapp.OnboardingStepField";
    static props = { ...standardFieldProps };

    get done() {
        return Boolean(this.props.record.data[this.props.name]);
    }

    get title() {
        return this.done ? _t("Done") : _t("To do");
    }
}

registry.category("fields").add("whatsapp_onboarding_step", {
    component: OnboardingStepField,
    displayName: _t("Checklist Step"),
    supportedTypes: ["boolean"],
});
