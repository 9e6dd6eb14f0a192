import { Message } from "@mail/core/common/message";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";
import { patch } from "@web/core/utils/patch";

const TICKS = {
    pending: { icon: "fa fa-clock-o", title: _t("Waiting to be sent to WhatsApp") },
    sent: { icon: "fa fa-check", title: _t("Sent") },
    delivered: { icon: "fa fa-check o-whatsapp-double", title: _t("Delivered") },
    read: { icon: "fa fa-check o-whatsapp-double text-info", title: _t("Read") },
    failed: { icon: "fa fa-exclamation-circle text-danger", title: _t("Not delivered") },
};

/** WhatsApp ticks, failure mark with Meta's reason and a retry, the customer's WhatsApp mark. */
patch(Message.prototype, {
    setup() {
        super.setup(...arguments);
        this.orm = useService("orm");
    },
    get whatsappTick() {
        return TICKS[this.message.whatsapp_status] || null;
    },
    get isWhatsAppCustomer() {
        const thread = this.message.thread;
        return Boolean(
            thread?.channel_type === "whatsapp" &&
                thread.whatsapp_partner &&
                this.message.author?.eq(thread.whatsapp_partner)
        );
    },
    async onClickWhatsAppRetry() {
        await this.orm.call("whatsapp.message", "action_retry", [this.message.whatsapp_message_ids]);
    },
});
