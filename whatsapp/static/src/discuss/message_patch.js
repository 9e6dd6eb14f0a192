import { Message } from "@mail/core/common/message";
import { deserializeDateTime } from "@web/core/l10n/dates";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";
import { markEventHandled } from "@web/core/utils/misc";
import { patch } from "@web/core/utils/patch";

const TICKS = {
    pending: { icon: "fa fa-clock-o", title: _t("Waiting to be sent to WhatsApp") },
    sent: { icon: "fa fa-check", title: _t("Sent") },
    delivered: { icon: "fa fa-check o-whatsapp-double", title: _t("Delivered") },
    read: { icon: "fa fa-check o-whatsapp-double o-whatsapp-read", title: _t("Read") },
    failed: { icon: "fa fa-exclamation-circle text-danger", title: _t("Not delivered") },
};

/**
 * WhatsApp ticks, failure mark with Meta's reason and a retry, the customer's WhatsApp mark, and an "Add to
 * contacts" button under the contact cards a customer shares.
 */
patch(Message.prototype, {
    setup() {
        super.setup(...arguments);
        this.orm = useService("orm");
    },
    get whatsappTick() {
        return TICKS[this.message.whatsapp_status] || null;
    },
    /** When the last status arrived, e.g. "Read · 10:42" (tooltip; shown beside the ticks in a chatter). */
    get whatsappTickLabel() {
        const tick = this.whatsappTick;
        if (!tick) {
            return "";
        }
        const date = this.message.whatsapp_status_date;
        if (!date || this.message.whatsapp_status === "pending") {
            return tick.title;
        }
        const when = deserializeDateTime(date).toLocaleString(luxon.DateTime.TIME_SIMPLE);
        return _t("%(status)s · %(time)s", { status: tick.title, time: when });
    },
    get isWhatsAppCustomer() {
        const thread = this.message.thread;
        return Boolean(
            thread?.channel_type === "whatsapp" &&
                thread.whatsapp_partner &&
                this.message.author?.eq(thread.whatsapp_partner)
        );
    },
    /** Create a contact from a card the customer shared, and open it. */
    async onClickWhatsAppAddContact(index) {
        const action = await this.orm.call("whatsapp.message", "action_whatsapp_add_contact", [
            [this.message.whatsapp_inbound_id],
            index,
        ]);
        if (action) {
            await this.env.services.action.doAction(action);
        }
    },
    /** A failed WhatsApp message of a record opens WhatsApp's failure dialog (reason, number, Resend, Ignore). */
    onClickFailure(ev) {
        if (this.message.message_type !== "whatsapp_message" || this.message.thread?.model === "discuss.channel") {
            return super.onClickFailure(...arguments);
        }
        markEventHandled(ev, "Message.ClickFailure");
        const message = this.message;
        this.env.services.action.doAction("whatsapp.whatsapp_resend_action", {
            additionalContext: { default_mail_message_id: message.id },
            // the new status at once, whatever the bus does (resent: queued; ignored: no longer failed)
            onClose: () => message.thread?.fetchMessages({ around: message.id }),
        });
    },
    /** "Retry" beside the reason: the failure dialog in a record's chatter, a direct retry in a chat. */
    async onClickWhatsAppRetry(ev) {
        if (this.message.failureNotifications.length) {
            return this.onClickFailure(ev);
        }
        await this.orm.call("whatsapp.message", "action_retry", [this.message.whatsapp_message_ids]);
    },
});
