import { registry } from "@web/core/registry";

// A WhatsApp message that Meta could not deliver, from the record's chatter: its failure icon opens
// WhatsApp's failure dialog (not email's), with Meta's reason; the number is corrected and saved on the
// contact, and the message resent.
registry.category("web_tour.tours").add("whatsapp_failure_resend_tour", {
    steps: () => [
        {
            content: "The failed WhatsApp message shows WhatsApp's icon, in red",
            trigger: ".o-mail-Message .o-mail-Message-notification.text-danger i.fa-whatsapp",
            run: "click",
        },
        {
            content: "WhatsApp's failure dialog opens, not email's",
            trigger: ".modal .o_whatsapp_resend",
        },
        {
            content: "It names the contact and gives Meta's reason",
            trigger:
                ".modal .o_whatsapp_resend_recipients .o_data_row:contains(Tour Bruno) td[name=failure_reason]:contains(Message undeliverable)",
        },
        {
            trigger:
                ".modal .o_whatsapp_resend_recipients .o_data_row td[name=failure_type]:contains(Undeliverable)",
        },
        {
            content: "Correct the number",
            trigger: ".modal .o_whatsapp_resend_recipients .o_data_row td[name=number]",
            run: "click",
        },
        {
            trigger: ".modal .o_whatsapp_resend_recipients .o_data_row td[name=number] input",
            run: "edit +32 470 12 34 56",
        },
        {
            content: "Save it on the contact",
            trigger: ".modal .o_whatsapp_resend_recipients .o_data_row td[name=save_number] input",
            run: "click",
        },
        {
            trigger: ".modal .o_whatsapp_resend_recipients .o_data_row td[name=save_number] input:checked",
        },
        {
            content: "Resend",
            trigger: ".modal-footer button[name=action_resend]",
            run: "click",
        },
        {
            trigger: "body:not(:has(.modal))",
        },
        {
            content: "The message is no longer failed in the chatter",
            trigger: ".o-mail-Message .o-mail-Message-notification:not(.text-danger) i.fa-whatsapp",
        },
    ],
});

// The messaging menu's item for the WhatsApp messages of the user that failed on several contacts: WhatsApp's
// icon and words; it opens the list of those contacts.
registry.category("web_tour.tours").add("whatsapp_failure_systray_tour", {
    steps: () => [
        {
            content: "Open the messaging menu",
            trigger: ".o_menu_systray i[aria-label='Messages']",
            run: "click",
        },
        {
            content: "The WhatsApp failure item, with WhatsApp's icon",
            trigger:
                ".o-mail-NotificationItem:contains(WhatsApp Failure: Contact) img[src*='whatsapp_failure']",
        },
        {
            trigger: ".o-mail-NotificationItem:contains(WhatsApp messages could not be sent)",
            run: "click",
        },
        {
            content: "The contacts with a failed WhatsApp message",
            trigger: ".o_breadcrumb .active:contains(WhatsApp Failures)",
        },
        {
            trigger: ".o_list_view .o_data_row:contains(Tour Bruno)",
        },
        {
            trigger: ".o_list_view .o_data_row:contains(Tour Carla)",
        },
        {
            trigger: ".o_list_view:not(:has(.o_data_row:contains(Tour Delivered)))",
        },
    ],
});
