import { registry } from "@web/core/registry";

// The onboarding checklist of Settings › WhatsApp, in two parts: between them Meta verifies the
// callback URL ("Verify and save" happens in Meta's console, the test plays Meta).

const openWhatsAppSettings = [
    {
        content: "Open the WhatsApp settings",
        trigger: ".settings_tab .tab[data-key='whatsapp']",
        run: "click",
    },
    {
        trigger: ".app_settings_block[data-key='whatsapp'] #whatsapp_onboarding_app",
    },
];

// done and pending steps look different: a green check, an empty grey circle
const step = (name, done) => ({
    content: `Checklist: ${name} ${done ? "done" : "to do"}`,
    trigger: `#whatsapp_onboarding_${name} ${
        done ? ".fa-check-circle.text-success" : ".fa-circle-o.text-muted"
    }`,
});

registry.category("web_tour.tours").add("whatsapp_onboarding_connect_tour", {
    steps: () => [
        ...openWhatsAppSettings,
        step("app", false),
        step("number", false),
        step("token", false),
        step("webhook", false),
        step("template", false),
        {
            content: "Start with the first step",
            trigger: "#whatsapp_onboarding_app button:contains(Connect an account)",
            run: "click",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=name] input",
            run: "edit Sandbox",
        },
        {
            content: "Paste the ids and secrets of Meta's developer console",
            trigger: ".o_form_view .o_field_widget[name=phone_uid] input",
            run: "edit 1000001",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=token] input",
            run: "edit sandbox-token",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=app_uid] input",
            run: "edit 3000001",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=account_uid] input",
            run: "edit 2000001",
        },
        {
            trigger: ".o_form_view .o_field_widget[name=app_secret] input",
            run: "edit sandbox-secret",
        },
        {
            content: "Test the connection",
            trigger: ".o_form_view button[name=button_test_connection]",
            run: "click",
        },
        {
            trigger: ".o_notification:contains(Connection successful)",
        },
        {
            content: "The callback URL to copy into Meta is shown",
            trigger: ".o_form_view .o_field_widget[name=callback_url]:contains(/whatsapp/webhook)",
        },
    ],
});

registry.category("web_tour.tours").add("whatsapp_onboarding_finish_tour", {
    steps: () => [
        ...openWhatsAppSettings,
        step("app", true),
        step("number", true),
        step("token", true),
        step("webhook", true),
        step("template", false),
        {
            content: "No template yet",
            trigger: "#whatsapp_onboarding_template button:contains(Create your first template)",
            run: "click",
        },
        {
            content: "The empty list says what to do",
            trigger: ".o_view_nocontent:contains(Create your first template)",
        },
        {
            content: "Back to the settings",
            trigger: ".o_breadcrumb .breadcrumb-item:first-child a",
            run: "click",
        },
        ...openWhatsAppSettings,
        {
            content: "Sync the templates approved in Meta: open the account",
            trigger: ".app_settings_block[data-key='whatsapp'] .o_whatsapp_account_summary button:contains(1 account)",
            run: "click",
        },
        {
            trigger: ".o_list_view .o_data_row td:contains(Sandbox)",
            run: "click",
        },
        {
            trigger: ".o_form_view button[name=button_sync_whatsapp_template]",
            run: "click",
        },
        {
            trigger: ".o_notification:contains(1 templates created)",
        },
        {
            content: "Back to the settings",
            trigger: ".o_breadcrumb .breadcrumb-item:first-child a",
            run: "click",
        },
        ...openWhatsAppSettings,
        step("app", true),
        step("number", true),
        step("token", true),
        step("webhook", true),
        step("template", true),
        {
            content: "Every step is done",
            trigger: ".o_whatsapp_onboarding_complete:visible",
        },
    ],
});
