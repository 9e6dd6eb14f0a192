import { _t } from "@web/core/l10n/translation";
import { patch } from "@web/core/utils/patch";
import { PhoneField, phoneField, formPhoneField } from "@web/views/fields/phone/phone_field";
import { SendWhatsAppButton } from "@whatsapp/components/whatsapp_button/whatsapp_button";

patch(PhoneField, {
    components: { ...PhoneField.components, SendWhatsAppButton },
    defaultProps: { ...PhoneField.defaultProps, enableWhatsApp: true },
    props: { ...PhoneField.props, enableWhatsApp: { type: Boolean, optional: true } },
});

const patchDescr = () => ({
    extractProps({ options }) {
        const props = super.extractProps(...arguments);
        props.enableWhatsApp = options.enable_whatsapp;
        return props;
    },
    get supportedOptions() {
        return [
            ...(super.supportedOptions || []),
            { label: _t("Enable WhatsApp"), name: "enable_whatsapp", type: "boolean", default: true },
        ];
    },
});

patch(phoneField, patchDescr());
patch(formPhoneField, patchDescr());
