import { _t } from "@web/core/l10n/translation";
import { registry } from "@web/core/registry";
import { user } from "@web/core/user";

/**
 * Whether the current user may send a WhatsApp template from records of a model (an approved template
 * they may use exists). Asked once per model and page load; used by the chatter button and the WhatsApp
 * icon of phone fields.
 */
export const whatsappAvailabilityService = {
    dependencies: ["orm"],
    start(env, { orm }) {
        const cache = new Map();
        return {
            /**
             * @param {string} resModel
             * @returns {Promise<boolean>}
             */
            canSend(resModel) {
                if (!resModel) {
                    return Promise.resolve(false);
                }
                if (!cache.has(resModel)) {
                    const promise = user
                        .hasGroup("whatsapp.group_whatsapp_user")
                        .then((isUser) =>
                            isUser
                                ? orm.silent.call("whatsapp.composer", "has_available_templates", [resModel])
                                : false
                        )
                        .catch(() => false);
                    cache.set(resModel, promise);
                }
                return cache.get(resModel);
            },
            /** Forget the answers (e.g. after templates changed). */
            reset() {
                cache.clear();
            },
        };
    },
};

registry.category("services").add("whatsapp.availability", whatsappAvailabilityService);

/**
 * Open the WhatsApp composer on records.
 *
 * @param {Object} actionService
 * @param {Object} params
 * @param {string} params.resModel
 * @param {number[]} params.resIds
 * @param {string} [params.numberFieldName] phone field whose number to use
 * @param {Function} [params.onClose]
 */
export function openWhatsAppComposer(actionService, { resModel, resIds, numberFieldName, onClose }) {
    const context = {
        ...user.context,
        default_res_model: resModel,
        default_res_ids: resIds,
    };
    if (numberFieldName) {
        context.default_number_field_name = numberFieldName;
    }
    return actionService.doAction(
        {
            type: "ir.actions.act_window",
            target: "new",
            name: _t("Send WhatsApp"),
            res_model: "whatsapp.composer",
            views: [[false, "form"]],
            context,
        },
        { onClose }
    );
}
