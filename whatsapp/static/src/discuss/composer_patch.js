import { Composer } from "@mail/core/common/composer";
import { onWillUnmount, useState } from "@odoo/owl";
import { browser } from "@web/core/browser/browser";
import { _t } from "@web/core/l10n/translation";
import { useService } from "@web/core/utils/hooks";
import { patch } from "@web/core/utils/patch";

const { DateTime } = luxon;

/**
 * The 24-hour window in WhatsApp chats: time left above the composer; once expired the composer is
 * disabled with the reason and a "Send a template" action (the server refuses free text anyway).
 */
patch(Composer.prototype, {
    setup() {
        super.setup(...arguments);
        this.action = useService("action");
        this.whatsappClock = useState({ now: DateTime.now() });
        const interval = browser.setInterval(() => (this.whatsappClock.now = DateTime.now()), 30000);
        onWillUnmount(() => browser.clearInterval(interval));
    },
    get isWhatsAppChat() {
        return this.thread?.channel_type === "whatsapp" && !this.props.composer.message;
    },
    get whatsappWindowClosed() {
        return this.isWhatsAppChat && !this.thread.whatsappWindowOpen(this.whatsappClock.now);
    },
    get whatsappTimeLeft() {
        const end = this.thread.whatsappWindowEnd;
        if (!end) {
            return "";
        }
        const left = end.diff(this.whatsappClock.now, ["hours", "minutes"]);
        return _t("%(hours)sh %(minutes)sm left to answer", {
            hours: Math.floor(left.hours),
            minutes: Math.floor(left.minutes),
        });
    },
    get whatsappWindowEndLabel() {
        const end = this.thread.whatsappWindowEnd;
        return end ? end.toLocaleString(DateTime.DATETIME_MED) : "";
    },
    get placeholder() {
        if (this.whatsappWindowClosed) {
            return _t("The 24-hour window is closed: send a template");
        }
        return super.placeholder;
    },
    get isSendButtonDisabled() {
        return this.whatsappWindowClosed || super.isSendButtonDisabled;
    },
    async sendMessage() {
        if (this.whatsappWindowClosed) {
            return;
        }
        return super.sendMessage(...arguments);
    },
    onClickWhatsAppSendTemplate() {
        const partner = this.thread.whatsapp_partner;
        this.action.doAction({
            type: "ir.actions.act_window",
            name: _t("Send WhatsApp"),
            res_model: "whatsapp.composer",
            views: [[false, "form"]],
            target: "new",
            context: {
                default_res_model: "res.partner",
                default_res_ids: partner ? [partner.id] : [],
            },
        });
    },
});
